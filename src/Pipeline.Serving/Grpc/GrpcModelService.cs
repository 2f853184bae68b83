using Grpc.Core;
using Pipeline.Serving.Grpc.Proto;
using Pipeline.Serving.Http;
using Pipeline.Serving.Versions;

namespace Pipeline.Serving.Grpc;

/// <summary>TF Serving's ModelService: GetModelStatus, every version's state or the one the model spec names.</summary>
internal sealed class GrpcModelService(Predictor predictor, Action<string> log) : ModelService.ModelServiceBase
{
    public override Task<GetModelStatusResponse> GetModelStatus(GetModelStatusRequest request, ServerCallContext context) => GrpcStatus.Answer(() =>
    {
        var spec = request.ModelSpec ?? throw GrpcStatus.Invalid("model_spec is missing; name the model");
        if (spec.Name != predictor.Options.Name)
        {
            throw new BadRequestException($"no model named \"{spec.Name}\"; this server serves \"{predictor.Options.Name}\"", 404);
        }
        IEnumerable<VersionStatus> statuses = predictor.Versions.Statuses();
        int? version = spec.VersionChoiceCase switch
        {
            ModelSpec.VersionChoiceOneofCase.Version => spec.Version is > 0 and <= int.MaxValue
                ? (int)spec.Version.Value
                : throw GrpcStatus.Invalid($"model_spec.version is {spec.Version}; a version is a number from 1"),
            ModelSpec.VersionChoiceOneofCase.VersionLabel => predictor.Versions.Labels().Labels.TryGetValue(spec.VersionLabel, out var labelled)
                ? labelled
                : throw new BadRequestException($"{predictor.Options.Name}: no version is labelled \"{spec.VersionLabel}\"", 404),
            _ => null,
        };
        if (version is { } number)
        {
            statuses = statuses.Where(s => s.Version == number).ToList();
            if (!statuses.Any())
            {
                throw new BadRequestException($"{predictor.Options.Name}: version {number} is unknown", 404);
            }
        }
        var response = new GetModelStatusResponse();
        response.ModelVersionStatus.AddRange(statuses.Select(s => new ModelVersionStatus
        {
            Version = s.Version,
            State = Enum.Parse<ModelVersionStatus.Types.State>(s.State, ignoreCase: true),
            Status = new StatusProto { ErrorCode = s.Error is null ? Code.Ok : Code.InvalidArgument, ErrorMessage = s.Error ?? "" },
        }));
        return Task.FromResult(response);
    }, log);
}
