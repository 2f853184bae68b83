using Pipeline.Core.Records;
using Pipeline.Core.Records.Proto;

namespace Pipeline.Core.Tests.TestSupport;

/// <summary>Reads back what the Records stage wrote.</summary>
internal static class Shards
{
    public static List<Example> ReadSplit(string recordsFolder, string split) =>
        Directory.GetFiles(recordsFolder, $"{split}-*.tfrecord").Order(StringComparer.Ordinal).SelectMany(Read).ToList();

    public static List<Example> Read(string path)
    {
        var examples = new List<Example>();
        using var reader = TfRecordReader.Open(path);
        while (reader.TryRead(out var record))
        {
            examples.Add(Example.Parser.ParseFrom(record.Data.Span));
        }
        return examples;
    }

    public static string Text(this Example example, string key) => example.Features.Feature[key].BytesList.Value[0].ToStringUtf8();

    public static byte[] Bytes(this Example example, string key) => example.Features.Feature[key].BytesList.Value[0].ToByteArray();

    public static long Int(this Example example, string key) => example.Features.Feature[key].Int64List.Value[0];

    /// <summary>Content hash of every file under a folder, by relative path.</summary>
    public static SortedDictionary<string, string> HashAll(string folder) =>
        new(Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(folder, f), Pipeline.Core.Engine.ContentHash.OfFile), StringComparer.Ordinal);
}
