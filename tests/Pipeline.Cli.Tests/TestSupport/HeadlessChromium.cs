using System.Diagnostics;

namespace Pipeline.Cli.Tests.TestSupport;

/// <summary>Debian's chromium, headless: a page's DOM after it loaded, a screenshot, and what it wrote to its console.</summary>
internal static class HeadlessChromium
{
    /// <summary>Set by `./build.sh --target=Test` (which installs chromium): the test then fails, never skips, without it.</summary>
    public const string RequireVariable = "PIPELINE_REQUIRE_CHROMIUM";

    public static string? Binary => new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists);

    /// <summary>Loads the file and returns the DOM as serialized after load, and the browser's log (console messages included).</summary>
    public static (string Dom, string Log) DumpDom(string file) => Run(file, "--dump-dom");

    /// <summary>Loads the file and writes a PNG screenshot of the window.</summary>
    public static string Screenshot(string file, string png, int width = 1200, int height = 2400) =>
        Run(file, $"--screenshot={png}", $"--window-size={width},{height}").Log;

    private static (string Dom, string Log) Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(Binary ?? throw new InvalidOperationException("chromium is not installed"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // --no-sandbox: the tests run as root in CI, where chromium's sandbox will not start. The profile is a fresh
        // folder, so no state of an earlier run (or of a person's browser) takes part.
        var profile = Directory.CreateTempSubdirectory("chromium-profile-").FullName;
        foreach (var argument in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", $"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0" }
            .Concat(arguments).Append(new Uri(file).AbsoluteUri))
        {
            start.ArgumentList.Add(argument);
        }
        try
        {
            using var chromium = Process.Start(start)!;
            var log = chromium.StandardError.ReadToEndAsync();
            var dom = chromium.StandardOutput.ReadToEndAsync();
            if (!chromium.WaitForExit(TimeSpan.FromSeconds(60)))
            {
                chromium.Kill(entireProcessTree: true);
                throw new TimeoutException("chromium did not finish within 60 s");
            }
            return (dom.Result, log.Result);
        }
        finally
        {
            Directory.Delete(profile, recursive: true);
        }
    }
}

/// <summary>A test in a real browser: skipped, saying why, where chromium is not installed, unless <see cref="HeadlessChromium.RequireVariable"/> is set.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (HeadlessChromium.Binary is null && Environment.GetEnvironmentVariable(HeadlessChromium.RequireVariable) is null)
        {
            Skip = $"chromium is not installed (apt-get install chromium; ./build.sh --target=Test installs it and sets {HeadlessChromium.RequireVariable})";
        }
    }
}
