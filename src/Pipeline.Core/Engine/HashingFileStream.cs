using System.IO.Hashing;

namespace Pipeline.Core.Engine;

/// <summary>A write-only file stream that hashes what it writes, so the engine need not read an output back.</summary>
internal sealed class HashingFileStream : Stream
{
    private readonly FileStream _file;
    private readonly XxHash128 _hash = new();
    private readonly Action<string, long> _done;
    private bool _disposed;

    /// <param name="done">Told the content hash and length once the stream is closed.</param>
    public HashingFileStream(string path, Action<string, long> done)
    {
        _file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
        _done = done;
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => _file.Length;

    public override long Position
    {
        get => _file.Position;
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _hash.Append(buffer);
        _file.Write(buffer);
    }

    public override void Flush() => _file.Flush();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            var length = _file.Position;
            _file.Dispose();
            _done(Convert.ToHexStringLower(_hash.GetCurrentHash()), length);
        }
        base.Dispose(disposing);
    }
}
