namespace Pipeline.Core.Images;

/// <summary>Image bytes ready for a record, with the facts the Example carries about them.</summary>
public sealed record EncodedImage(byte[] Bytes, string Format, int Width, int Height, int Channels, string Colorspace);
