using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using System.Text.Json;
using Pipeline.Core.Engine;

namespace Pipeline.Training.Train;

/// <summary>
/// artifacts/&lt;dataset&gt;/checkpoints/: the train loop's resumable state, one file per evaluation step, the newest
/// few kept. Each file is written beside its final name, flushed to disk and renamed, and carries a checksum of
/// itself, so a checkpoint cut short by a crash or power loss is recognised and the one before it used.
/// </summary>
/// <remarks>
/// File layout: "PIPECKPT", int32 format version, then length-prefixed (int64) sections: a JSON header (step,
/// lineage, history), the model state (TorchSharp's format), the optimizer state; then the XxHash128 of all of it.
/// </remarks>
public sealed class CheckpointStore
{
    private const int Format = 1;
    private static readonly byte[] Magic = "PIPECKPT"u8.ToArray();
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private readonly string _directory;
    private readonly int _keep;
    private readonly Action<string> _log;

    public CheckpointStore(string directory, int keep, Action<string> log)
    {
        _directory = directory;
        _keep = Math.Max(1, keep);
        _log = log;
    }

    public static string FileName(int step) => $"ckpt-{step:D8}.ckpt";

    /// <summary>Writes a checkpoint atomically and durably, then deletes all but the newest few.</summary>
    public string Save(int step, string lineage, IReadOnlyList<HistoryPoint> history, byte[] model, byte[] optimizer)
    {
        Directory.CreateDirectory(_directory);
        var header = JsonSerializer.SerializeToUtf8Bytes(new Header(step, lineage, history), Json);
        var path = Path.Combine(_directory, FileName(step));
        var temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            var hash = new XxHash128();
            void Write(ReadOnlySpan<byte> bytes)
            {
                hash.Append(bytes);
                file.Write(bytes);
            }
            Span<byte> number = stackalloc byte[8];
            Write(Magic);
            BinaryPrimitives.WriteInt32LittleEndian(number, Format);
            Write(number[..4]);
            foreach (var section in new[] { header, model, optimizer })
            {
                BinaryPrimitives.WriteInt64LittleEndian(number, section.Length);
                Write(number);
                Write(section);
            }
            file.Write(hash.GetCurrentHash());
            file.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
        Prune();
        return path;
    }

    /// <summary>
    /// The newest checkpoint of this lineage, at most <paramref name="maxStep"/>, that reads back intact, or null.
    /// A damaged one is named, with the one used instead; others are left for <see cref="Discard"/>.
    /// </summary>
    public Checkpoint? Latest(string lineage, int maxStep)
    {
        foreach (var path in Files().Reverse())
        {
            Checkpoint checkpoint;
            try
            {
                checkpoint = Read(path);
            }
            catch (PipelineException e)
            {
                _log($"  checkpoint {Path.GetFileName(path)} is unusable ({e.Problem}); trying the one before it");
                continue;
            }
            if (checkpoint.Lineage == lineage && checkpoint.Step <= maxStep)
            {
                return checkpoint;
            }
        }
        return null;
    }

    /// <summary>Deletes every checkpoint (and any half-written one): a fresh start.</summary>
    public int Discard()
    {
        if (!Directory.Exists(_directory))
        {
            return 0;
        }
        var files = Directory.GetFiles(_directory, "ckpt-*");
        foreach (var file in files)
        {
            File.Delete(file);
        }
        return files.Length;
    }

    public static Checkpoint Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (IOException e)
        {
            throw new PipelineException($"cannot read: {e.Message}", path, e);
        }
        const int hashSize = 16;
        if (bytes.Length < Magic.Length + 4 + hashSize || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            throw new PipelineException("not a checkpoint of this pipeline, or cut short", path);
        }
        var body = bytes.AsSpan(0, bytes.Length - hashSize);
        if (!XxHash128.Hash(body).AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - hashSize)))
        {
            throw new PipelineException("checksum mismatch: the file is damaged or was cut short", path);
        }
        var format = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(Magic.Length));
        if (format != Format)
        {
            throw new PipelineException($"checkpoint format {format} is not {Format}", path);
        }
        var at = Magic.Length + 4;
        var sections = new ReadOnlyMemory<byte>[3];
        for (var i = 0; i < sections.Length; i++)
        {
            var length = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(at));
            at += 8;
            if (length < 0 || length > body.Length - at)
            {
                throw new PipelineException($"section {i} has an impossible length {length}", path);
            }
            sections[i] = bytes.AsMemory(at, (int)length);
            at += (int)length;
        }
        var header = JsonSerializer.Deserialize<Header>(sections[0].Span, Json)
            ?? throw new PipelineException("empty checkpoint header", path);
        return new Checkpoint(path, header.Step, header.Lineage, header.History, sections[1], sections[2]);
    }

    private IEnumerable<string> Files() =>
        Directory.Exists(_directory)
            ? Directory.GetFiles(_directory, "ckpt-*.ckpt").Order(StringComparer.Ordinal)
            : [];

    private void Prune()
    {
        foreach (var old in Files().SkipLast(_keep))
        {
            File.Delete(old);
        }
        foreach (var temp in Directory.GetFiles(_directory, "ckpt-*.tmp"))
        {
            File.Delete(temp);
        }
    }

    private sealed record Header(int Step, string Lineage, IReadOnlyList<HistoryPoint> History);
}
