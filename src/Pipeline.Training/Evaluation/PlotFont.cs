using Pipeline.Core.Engine;
using SkiaSharp;

namespace Pipeline.Training.Evaluation;

/// <summary>The font every plot is drawn with, chosen by name so that text looks the same on every machine that has it.</summary>
/// <remarks>
/// ScottPlot's Linux SkiaSharp build reads fonts from /usr/share/fonts itself (no fontconfig) and would otherwise take
/// whichever family it lists first (DejaVu Serif on Debian). With no font at all, text would silently render as nothing,
/// so that case stops the stage with what to install. Debian: fonts-dejavu-core provides DejaVu Sans.
/// </remarks>
internal static class PlotFont
{
    private static readonly string[] Preferred = ["DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica"];

    private static readonly Lazy<string> Chosen = new(Choose);

    public static string Name => Chosen.Value;

    private static string Choose()
    {
        // With no font files SkiaSharp still lists one family, named "", whose typeface has no glyphs.
        var families = SKFontManager.Default.FontFamilies.Where(Usable).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var name = Preferred.FirstOrDefault(families.Contains) ?? families.Order(StringComparer.Ordinal).FirstOrDefault();
        return name ?? throw new PipelineException(
            "no font found to draw plot text with (plots would have no labels); install one (Debian/Ubuntu: apt-get install fonts-dejavu-core)",
            "/usr/share/fonts");
    }

    private static bool Usable(string family)
    {
        if (string.IsNullOrWhiteSpace(family))
        {
            return false;
        }
        using var typeface = SKTypeface.FromFamilyName(family);
        return typeface is { GlyphCount: > 0 } && string.Equals(typeface.FamilyName, family, StringComparison.OrdinalIgnoreCase);
    }
}
