using System.Text.Json;
using System.Text.Json.Nodes;

namespace Pipeline.Core.Engine;

/// <summary>artifacts/&lt;dataset&gt;/pipeline.lock.json: the single record of what was built from what.</summary>
/// <remarks>Sorted keys and one value per line, so two builds diff cleanly in review.</remarks>
public sealed class LockFile
{
    public const string FileName = "pipeline.lock.json";
    private const int Format = 1;

    private readonly SortedDictionary<string, LockEntry> _stages = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, LockEntry> Stages => _stages;

    public LockEntry? Find(string stage) => _stages.GetValueOrDefault(stage);

    public void Set(LockEntry entry) => _stages[entry.Stage] = entry;

    public bool Remove(string stage) => _stages.Remove(stage);

    public static LockFile Load(string path)
    {
        var lockFile = new LockFile();
        if (!File.Exists(path))
        {
            return lockFile;
        }

        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new PipelineException(
                $"not valid JSON ({e.Message}); delete it to rebuild every stage of this dataset", path, e);
        }

        if (root?["stages"] is JsonObject stages)
        {
            foreach (var (name, node) in stages)
            {
                if (node is not JsonObject obj)
                {
                    continue;
                }
                try
                {
                    lockFile._stages[name] = LockEntry.FromJson(name, obj);
                }
                catch (Exception e) when (e is InvalidOperationException or FormatException)
                {
                    // A hand-edited or damaged entry: forget it, which only makes that stage rebuild.
                }
            }
        }
        return lockFile;
    }

    /// <summary>Writes to a temporary file and renames it over the old one, so a crash never leaves half a lock file.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToText());

    /// <summary>
    /// Writes the content beside the lock file and returns that file's path, to be renamed over
    /// <paramref name="path"/> later: a disk too full to hold it is found before anything else changes.
    /// </summary>
    public string SaveBeside(string path) => AtomicFile.WriteBeside(path, System.Text.Encoding.UTF8.GetBytes(ToText()));

    private string ToText()
    {
        var stages = new JsonObject();
        foreach (var (name, entry) in _stages)
        {
            stages[name] = entry.ToJson();
        }
        var root = new JsonObject { ["format"] = Format, ["stages"] = stages };
        return CanonicalJson.Serialize(root, indented: true);
    }
}
