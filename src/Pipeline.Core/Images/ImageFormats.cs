using SixLabors.ImageSharp.Formats;

namespace Pipeline.Core.Images;

/// <summary>
/// The image formats our decoder reads, by the names people use. Training and evaluation read them all from a
/// dataset's own files; a server takes <see cref="Network"/> from clients unless told otherwise, keeping the decoders
/// of rarely sent, complex formats (TIFF above all) out of reach of the network.
/// </summary>
public static class ImageFormats
{
    public static readonly IReadOnlyList<string> All = ["JPEG", "PNG", "GIF", "BMP", "WebP", "TIFF", "TGA", "PBM"];

    /// <summary>What a server accepts from clients by default: the formats browsers and phones send.</summary>
    public static readonly IReadOnlyList<string> Network = ["JPEG", "PNG", "GIF", "BMP", "WebP"];

    /// <summary>The formats a comma list names, in <see cref="All"/>'s spelling, or "all".</summary>
    /// <exception cref="ArgumentException">A name that is not one of <see cref="All"/>; the message lists them.</exception>
    public static IReadOnlyList<string> Parse(string list)
    {
        ArgumentNullException.ThrowIfNull(list);
        if (list.Trim().Equals("all", StringComparison.OrdinalIgnoreCase))
        {
            return All;
        }
        var names = new List<string>();
        foreach (var item in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var known = All.FirstOrDefault(f => f.Equals(item, StringComparison.OrdinalIgnoreCase) || (item.Equals("JPG", StringComparison.OrdinalIgnoreCase) && f == "JPEG"))
                ?? throw new ArgumentException($"\"{item}\" is not an image format we read; they are {string.Join(", ", All)} (or all)", nameof(list));
            if (!names.Contains(known))
            {
                names.Add(known);
            }
        }
        return names.Count > 0 ? names : throw new ArgumentException($"no image format named; they are {string.Join(", ", All)} (or all)", nameof(list));
    }

    /// <summary>Whether <paramref name="formats"/> names every format (in any order, case or repetition).</summary>
    public static bool AreAll(IReadOnlyCollection<string> formats) =>
        All.All(f => formats.Contains(f, StringComparer.OrdinalIgnoreCase));

    /// <summary>ImageSharp's format in <see cref="All"/>'s spelling ("Webp" is WebP).</summary>
    internal static string Name(IImageFormat format) =>
        All.FirstOrDefault(f => f.Equals(format.Name, StringComparison.OrdinalIgnoreCase)) ?? format.Name;
}
