namespace Pipeline.Core.Tests.TestSupport;

/// <summary>A fresh folder under the system temp folder for one test's fixtures, deleted on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"pipeline-tests-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    /// <summary>The full path of <paramref name="relative"/> ('/'-separated) inside this folder, its parent folders created.</summary>
    public string Combine(string relative)
    {
        var path = System.IO.Path.GetFullPath(System.IO.Path.Combine(Path, relative.Replace('/', System.IO.Path.DirectorySeparatorChar)));
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        return path;
    }

    public string WriteText(string relative, string text)
    {
        var path = Combine(relative);
        File.WriteAllText(path, text);
        return path;
    }

    public string WriteBytes(string relative, byte[] bytes)
    {
        var path = Combine(relative);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A file still open elsewhere only leaves litter in the temp folder; the test's result stands.
        }
    }
}
