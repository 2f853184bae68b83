namespace Pipeline.Core.Images;

/// <summary>Image bytes ready for a record, with the facts the Example carries about them.</summary>
/// <remarks>For a pass-through JPEG, <see cref="Bytes"/> is the caller's buffer itself: nothing is copied.</remarks>
public sealed record EncodedImage(ReadOnlyMemory<byte> Bytes, string Format, int Width, int Height, int Channels, string Colorspace);
