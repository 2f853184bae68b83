using Pipeline.Cli.Commands;
using Pipeline.Core.Engine;

namespace Pipeline.Cli.Tests.Commands;

public sealed class MSBuildErrorTests
{
    [Fact]
    public void A_file_and_line_become_msbuilds_origin_with_the_line_in_parentheses()
    {
        var error = new PipelineException("label \"rose\" is not in labels.txt", "/data/flowers/train.csv:214");

        Assert.Equal("/data/flowers/train.csv(214): error PIPELINE: label \"rose\" is not in labels.txt", MSBuildError.Format(error));
    }

    [Fact]
    public void A_line_and_column_become_msbuilds_line_and_column()
    {
        var error = new PipelineException("train.learning_rate.base is -1; it must be positive", "/data/x/dataset.json:27:17");

        Assert.Equal("/data/x/dataset.json(27,17): error PIPELINE: train.learning_rate.base is -1; it must be positive", MSBuildError.Format(error));
    }

    [Fact]
    public void A_file_with_a_field_keeps_the_field_in_the_message()
    {
        var error = new PipelineException("not an image", "/data/train-images.gz: image 42");

        Assert.Equal("/data/train-images.gz: error PIPELINE: image 42: not an image", MSBuildError.Format(error));
    }

    [Fact]
    public void No_location_is_reported_against_the_tool()
    {
        Assert.Equal("pipeline : error PIPELINE: no dataset named \"x\"", MSBuildError.Format(new PipelineException("no dataset named \"x\"")));
    }

    [Fact]
    public void Warnings_become_msbuild_warnings_and_other_lines_stay_as_they_are()
    {
        Assert.Equal("pipeline : warning PIPELINE: run-cache entry x is damaged", MSBuildError.Warning("warning: run-cache entry x is damaged"));
        Assert.Equal("  Train: fresh — up to date", MSBuildError.Warning("  Train: fresh — up to date"));
    }

    [Fact]
    public void A_relative_file_becomes_absolute_so_IDEs_can_open_it()
    {
        var formatted = MSBuildError.Format(new PipelineException("bad", "datasets/x/train.csv:3"));

        Assert.StartsWith(Path.GetFullPath("datasets/x/train.csv") + "(3): error PIPELINE: ", formatted);
    }
}
