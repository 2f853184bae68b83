using System.Reflection;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Pipeline.Core.Datasets;

/// <summary>
/// The JSON Schema of dataset.json, generated from the typed records <see cref="DatasetLoader"/> reads, so the two
/// cannot drift: every key, its type, the names each field accepts, and each key's documentation for editors. The
/// schema is the loader's shape; value ranges and rules between fields are the loader's alone.
/// </summary>
public static partial class DatasetSchema
{
    /// <summary>The file shipped beside the datasets; each shipped dataset.json points at it with "$schema".</summary>
    public const string FileName = "dataset.schema.json";

    /// <summary>The key that names a schema in a dataset.json; the loader accepts it at the top level and ignores it.</summary>
    public const string SchemaKey = "$schema";

    /// <summary>The names a string field accepts, by the property that holds it.</summary>
    private static readonly Dictionary<PropertyInfo, IReadOnlyList<string>> Names = new()
    {
        [typeof(TrainParameters).GetProperty(nameof(TrainParameters.Model))!] = Architectures.Names,
        [typeof(TransferParameters).GetProperty(nameof(TransferParameters.Architecture))!] = Architectures.Transferable,
        [typeof(OptimizerParameters).GetProperty(nameof(OptimizerParameters.Name))!] = OptimizerParameters.Names,
        [typeof(LearningRateParameters).GetProperty(nameof(LearningRateParameters.Schedule))!] = LearningRateParameters.Schedules,
        [typeof(RecordsParameters).GetProperty(nameof(RecordsParameters.OnBadImage))!] = RecordsParameters.BadImagePolicies,
        [typeof(ExportParameters).GetProperty(nameof(ExportParameters.Baseline))!] = ExportParameters.Baselines,
    };

    /// <summary>The schema as text, indented, with a final newline: what datasets/dataset.schema.json holds.</summary>
    public static string Text() =>
        Generate().ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";

    public static JsonObject Generate()
    {
        var docs = Documentation.Load(typeof(DatasetDefinition).Assembly);
        var options = new JsonSerializerOptions(DatasetLoader.Options) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };
        var schema = (JsonObject)options.GetJsonSchemaAsNode(typeof(DatasetDefinition), new JsonSchemaExporterOptions
        {
            TreatNullObliviousAsNonNullable = true,
            TransformSchemaNode = (context, node) =>
            {
                if (node is not JsonObject obj)
                {
                    return node;
                }
                var property = context.PropertyInfo?.AttributeProvider as PropertyInfo;
                if (property is not null && Names.TryGetValue(property, out var names))
                {
                    var values = new JsonArray(names.Select(n => (JsonNode?)JsonValue.Create(n)).ToArray());
                    if (Nullable(obj))
                    {
                        values.Add(null);
                    }
                    obj["enum"] = values;
                }
                if (obj["properties"] is JsonObject)
                {
                    // A key no record declares is refused by the loader; the schema says so to editors.
                    obj["additionalProperties"] = false;
                }
                // A key's own summary, else its type's ("train": the TrainParameters record's).
                var text = (property is null ? null : docs.Of(property)) ?? docs.Of(System.Nullable.GetUnderlyingType(context.TypeInfo.Type) ?? context.TypeInfo.Type);
                if (text is not null)
                {
                    obj.Insert(0, "description", text);
                }
                return obj;
            },
        });
        ((JsonObject)schema["properties"]!).Insert(0, SchemaKey, new JsonObject
        {
            ["description"] = "The schema this file follows, for editors; the pipeline ignores it.",
            ["type"] = "string",
        });
        schema.Insert(0, "$schema", "https://json-schema.org/draft/2020-12/schema");
        schema.Insert(1, "title", "dataset.json");
        return schema;
    }

    private static bool Nullable(JsonObject schema) =>
        schema["type"] is JsonArray types && types.Any(t => t?.GetValue<string>() == "null");

    /// <summary>The assembly's XML documentation (its &lt;summary&gt; texts), when the file is beside it.</summary>
    private sealed partial class Documentation
    {
        private readonly Dictionary<string, string> _summaries;

        private Documentation(Dictionary<string, string> summaries) => _summaries = summaries;

        public static Documentation Load(Assembly assembly)
        {
            var path = Path.ChangeExtension(assembly.Location, ".xml");
            var summaries = new Dictionary<string, string>(StringComparer.Ordinal);
            if (File.Exists(path))
            {
                foreach (var member in XDocument.Load(path).Descendants("member"))
                {
                    if (member.Attribute("name")?.Value is { } name && member.Element("summary") is { } summary)
                    {
                        summaries[name] = Flatten(summary);
                    }
                }
            }
            return new Documentation(summaries);
        }

        public string? Of(PropertyInfo property) => _summaries.GetValueOrDefault($"P:{property.DeclaringType!.FullName}.{property.Name}");

        public string? Of(Type type) => _summaries.GetValueOrDefault($"T:{type.FullName}");

        /// <summary>The summary's text on one line, a &lt;see cref="X"/&gt; written as X's own name.</summary>
        private static string Flatten(XElement summary)
        {
            var text = string.Concat(summary.Nodes().Select(node => node switch
            {
                // A property by its key in dataset.json ("skip_per_class"), anything else by its name.
                XElement { Name.LocalName: "see" } see when see.Attribute("cref")?.Value is { } cref => cref.StartsWith("P:", StringComparison.Ordinal)
                    ? JsonNamingPolicy.SnakeCaseLower.ConvertName(cref.Split('.').Last())
                    : cref.Split('.', ':').Last(),
                XElement element => element.Value,
                _ => node.ToString(),
            }));
            return Whitespace().Replace(System.Net.WebUtility.HtmlDecode(text), " ").Trim();
        }

        [GeneratedRegex(@"\s+")]
        private static partial Regex Whitespace();
    }
}
