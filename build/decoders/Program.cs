using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using Pipeline.Core.Images;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.PixelFormats;
using SkiaSharp;

namespace Pipeline.DecoderLab;

/// <summary>
/// usage:
///   bench imagesharp|skia fashion|photos|large   time and memory of one decoder on one image set (one process each,
///                                                 so its peak memory is its own)
///   agree fashion|photos|large                   how far Skia's model input is from ImageSharp's on the same images
///   seeds DIR                                    small images of every format, AFL's starting corpus
///   fuzz                                         one input from AFL on stdin through ImageSharp's decode path (SharpFuzz)
///   replay DIR...                                every file through both decoders: how many each decodes, refuses, fails on
/// </summary>
public static class Program
{
    /// <summary>
    /// The fuzzed path's pixel limit: large enough for every format's features (tiles, strips, progressive scans), small
    /// enough that one input stays fast. At 4 megapixels AFL drifted to inputs of near that size, and the
    /// instrumented decoder fell from 3,000 executions a second to a few; larger sizes only take the header check's
    /// refusal, which is fuzzed at any limit.
    /// </summary>
    private const long FuzzMaxPixels = 262_144;

    public static int Main(string[] args)
    {
        switch (args)
        {
            case ["bench", { } decoderName, { } setName]:
                Bench(decoderName, setName);
                return 0;
            case ["agree", { } agreeSet]:
                Agree(agreeSet);
                return 0;
            case ["seeds", { } folder]:
                Seeds(folder);
                return 0;
            case ["fuzz"]:
                // Made inside the callback: instrumented ImageSharp code (the decoder's configuration is built in
                // its constructor) must not run before SharpFuzz has mapped AFL's coverage memory, or it faults.
                InputImageDecoder? decoder = null;
                SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
                {
                    decoder ??= new InputImageDecoder(new InputSpec(3, 64, [0.5f], [0.25f]), FuzzMaxPixels);
                    using var buffer = new MemoryStream();
                    stream.CopyTo(buffer);
                    try
                    {
                        decoder.DecodePixels(buffer.ToArray(), "input");
                    }
                    catch (BadImageException)
                    {
                        // Refused with a clear error: what untrusted input should get. Anything else is a finding.
                    }
                });
                return 0;
            case ["replay", .. var folders]:
                Replay(folders);
                return 0;
            default:
                Console.Error.WriteLine("usage: bench imagesharp|skia fashion|photos|large | agree SET | seeds DIR | fuzz | replay DIR...");
                return 2;
        }
    }

    /// <summary>An image set and the model input it is decoded to.</summary>
    private sealed record ImageSet(string Name, InputSpec Input, IReadOnlyList<byte[]> Images);

    /// <summary>The set's images, made once and kept as files, so a benchmark's peak memory is its decoder's and not the making of its images.</summary>
    private static ImageSet Set(string name)
    {
        var made = Make(name);
        var folder = Path.Combine(Path.GetTempPath(), "pipeline-decoder-lab", name);
        var count = name switch { "fashion" => 10_000, "photos" => 200, _ => 6 };
        if (!Directory.Exists(folder) || Directory.GetFiles(folder).Length != count)
        {
            Directory.CreateDirectory(folder);
            var images = made.Images();
            for (var i = 0; i < images.Count; i++)
            {
                File.WriteAllBytes(Path.Combine(folder, $"{i:D5}"), images[i]);
            }
        }
        return new ImageSet(name, made.Input, [.. Directory.GetFiles(folder).Order(StringComparer.Ordinal).Select(File.ReadAllBytes)]);
    }

    private static (InputSpec Input, Func<IReadOnlyList<byte[]>> Images) Make(string name) => name switch
    {
        // The default dataset's test split, as the PNG files a client sends: 28×28 gray, decoded to the model's 1×28×28.
        "fashion" => (new InputSpec(1, 28, [0.5f], [0.5f]), () => FashionPngs(10_000)),
        // Photos as a phone or a web page gives them, to an ImageNet model's 3×224×224.
        "photos" => (new InputSpec(3, 224, [0.5f], [0.5f]), () => [.. Enumerable.Range(0, 200).Select(i => Jpeg(640, 480, i))]),
        // The largest image the server takes by default (25 megapixels), to 3×224×224.
        "large" => (new InputSpec(3, 224, [0.5f], [0.5f]), () => [.. Enumerable.Range(0, 6).Select(i => Jpeg(5000, 5000, i))]),
        _ => throw new ArgumentException($"unknown image set \"{name}\": fashion, photos or large", nameof(name)),
    };

    private static void Bench(string decoderName, string setName)
    {
        var set = Set(setName);
        var decode = Decoder(decoderName, set.Input);
        var output = new float[set.Input.ValuesPerImage];
        for (var i = 0; i < Math.Min(20, set.Images.Count); i++)
        {
            decode(set.Images[i], output);
        }
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        var rounds = 0;
        do
        {
            foreach (var image in set.Images)
            {
                decode(image, output);
            }
            rounds++;
        }
        while (clock.Elapsed < TimeSpan.FromSeconds(3));
        var perImage = clock.Elapsed.TotalMilliseconds / (rounds * set.Images.Count);
        var allocatedPerImage = (GC.GetTotalAllocatedBytes(precise: true) - allocated) / (double)(rounds * set.Images.Count);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {decoderName} | {set.Name} ({set.Images.Count} images, {set.Images.Average(i => i.Length) / 1024:0.#} KB each, to {set.Input.Channels}×{set.Input.Size}×{set.Input.Size}) | {perImage:0.000} ms | {1000 / perImage:0} | {allocatedPerImage / 1024:0.#} KB | {PeakResidentMegabytes()} MB |"));
    }

    private static void Agree(string setName)
    {
        var set = Set(setName);
        var sharp = Decoder("imagesharp", set.Input);
        var skia = Decoder("skia", set.Input);
        var a = new float[set.Input.ValuesPerImage];
        var b = new float[set.Input.ValuesPerImage];
        double sum = 0, max = 0;
        long count = 0;
        foreach (var image in set.Images)
        {
            sharp(image, a);
            skia(image, b);
            for (var i = 0; i < a.Length; i++)
            {
                // In 8-bit levels: the inputs are (level / 255 − 0.5) / 0.5, so a level is 2 / 255 of a value.
                var levels = Math.Abs(a[i] - b[i]) * 255 / 2;
                sum += levels;
                max = Math.Max(max, levels);
                count++;
            }
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {set.Name} | {sum / count:0.00} levels | {max:0} levels |"));
    }

    private static Action<byte[], float[]> Decoder(string name, InputSpec input) => name switch
    {
        "imagesharp" => ImageSharpDecoder(input),
        "skia" => SkiaDecoder(input),
        _ => throw new ArgumentException($"unknown decoder \"{name}\": imagesharp or skia", nameof(name)),
    };

    /// <summary>The product's decoder: header first, ImageSharp's decode, conversion, bilinear resize, normalization.</summary>
    private static Action<byte[], float[]> ImageSharpDecoder(InputSpec input)
    {
        var decoder = new InputImageDecoder(input);
        return (bytes, output) => decoder.Decode(bytes, output, "image");
    }

    /// <summary>
    /// The same job with Skia: header first (refusing what InputImageDecoder refuses), decode (a JPEG at the smallest
    /// scale its codec offers that is still at least the input size, which Skia's codec does natively), convert,
    /// resize bilinearly to size × size, normalize.
    /// </summary>
    private static Action<byte[], float[]> SkiaDecoder(InputSpec input)
    {
        var levels = InputImageDecoder.NormalizedLevels(input);
        var pixels = new byte[input.Size * input.Size * input.Channels];
        return (bytes, output) =>
        {
            using var data = SKData.CreateCopy(bytes);
            using var codec = SKCodec.Create(data) ?? throw new BadImageException("not an image Skia reads", "image");
            if ((long)codec.Info.Width * codec.Info.Height > InputImageDecoder.DefaultMaxPixels)
            {
                throw new BadImageException("image too large", "image");
            }
            var scale = Math.Max((float)input.Size / codec.Info.Width, (float)input.Size / codec.Info.Height);
            var decoded = codec.GetScaledDimensions(Math.Min(1f, scale));
            var color = input.Channels == 1 ? SKColorType.Gray8 : SKColorType.Rgba8888;
            using var bitmap = new SKBitmap(new SKImageInfo(decoded.Width, decoded.Height, color, SKAlphaType.Premul));
            var result = codec.GetPixels(bitmap.Info, bitmap.GetPixels());
            if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput))
            {
                throw new BadImageException($"the image cannot be decoded: {result}", "image");
            }
            using var resized = bitmap.Resize(new SKImageInfo(input.Size, input.Size, color, SKAlphaType.Premul), new SKSamplingOptions(SKFilterMode.Linear))
                ?? throw new BadImageException("the image cannot be resized", "image");
            var span = resized.GetPixelSpan();
            var stride = input.Channels == 1 ? 1 : 4;
            for (var i = 0; i < input.Size * input.Size; i++)
            {
                for (var c = 0; c < input.Channels; c++)
                {
                    pixels[i * input.Channels + c] = span[i * stride + c];
                }
            }
            InputImageDecoder.WriteNormalized(pixels, input.Channels, input.Size, levels, output);
        };
    }

    private static void Replay(IEnumerable<string> folders)
    {
        // AFL keeps its own state in dot-folders beside the inputs; only the inputs are replayed.
        var files = folders.Where(Directory.Exists).SelectMany(f => Directory.EnumerateFiles(f, "*", SearchOption.TopDirectoryOnly))
            .Where(f => !Path.GetFileName(f).StartsWith("README", StringComparison.Ordinal)).ToList();
        var input = new InputSpec(3, 64, [0.5f], [0.25f]);
        var sharp = new InputImageDecoder(input, FuzzMaxPixels);
        var skia = SkiaDecoder(input);
        var output = new float[input.ValuesPerImage];
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        void Count(string key) => counts[key] = counts.GetValueOrDefault(key) + 1;
        foreach (var file in files)
        {
            var bytes = File.ReadAllBytes(file);
            try
            {
                sharp.DecodePixels(bytes, file);
                Count("imagesharp decoded");
            }
            catch (BadImageException)
            {
                Count("imagesharp refused");
            }
            catch (Exception e)
            {
                Count("imagesharp FAILED");
                Console.Error.WriteLine($"imagesharp: {file}: {e.GetType().Name}: {e.Message}");
            }
            try
            {
                skia(bytes, output);
                Count("skia decoded");
            }
            catch (BadImageException)
            {
                Count("skia refused");
            }
            catch (Exception e)
            {
                Count("skia FAILED");
                Console.Error.WriteLine($"skia: {file}: {e.GetType().Name}: {e.Message}");
            }
        }
        Console.WriteLine($"{files.Count} inputs: {string.Join(", ", counts.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key} {c.Value}"))}");
    }

    /// <summary>Small images of every format ImageSharp reads, each a few hundred bytes: AFL mutates from these.</summary>
    private static void Seeds(string folder)
    {
        Directory.CreateDirectory(folder);
        using var image = new Image<Rgba32>(16, 12);
        for (var y = 0; y < image.Height; y++)
        {
            for (var x = 0; x < image.Width; x++)
            {
                image[x, y] = new Rgba32((byte)(x * 16), (byte)(y * 20), (byte)((x + y) * 8), (byte)(255 - x * 4));
            }
        }
        image.SaveAsPng(Path.Combine(folder, "seed.png"));
        image.SaveAsJpeg(Path.Combine(folder, "seed.jpg"));
        image.SaveAsJpeg(Path.Combine(folder, "seed-progressive.jpg"), new JpegEncoder { Quality = 60, ColorType = JpegColorType.YCbCrRatio420 });
        image.SaveAsGif(Path.Combine(folder, "seed.gif"));
        image.SaveAsBmp(Path.Combine(folder, "seed.bmp"));
        image.SaveAsTga(Path.Combine(folder, "seed.tga"));
        image.SaveAsTiff(Path.Combine(folder, "seed.tiff"));
        image.SaveAsWebp(Path.Combine(folder, "seed.webp"));
        image.SaveAsPbm(Path.Combine(folder, "seed.pbm"));
        File.WriteAllBytes(Path.Combine(folder, "fashion.png"), FashionPngs(1)[0]);
    }

    private static byte[][] FashionPngs(int count)
    {
        using var file = new GZipStream(File.OpenRead("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"), CompressionMode.Decompress);
        using var buffer = new MemoryStream();
        file.CopyTo(buffer);
        var bytes = buffer.GetBuffer();
        return [.. Enumerable.Range(0, count).Select(i => GrayPngWriter.Encode(bytes.AsSpan(16 + i * 784, 784), 28, 28))];
    }

    /// <summary>A photo-like JPEG: smooth gradients, edges and noise, quality 90.</summary>
    private static byte[] Jpeg(int width, int height, int seed)
    {
        var random = new Random(seed);
        using var image = new Image<Rgb24>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < rows.Height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (var x = 0; x < row.Length; x++)
                {
                    var edge = (x / 97 + y / 61 + seed) % 3 == 0 ? 60 : 0;
                    row[x] = new Rgb24((byte)(x * 255 / width), (byte)(y * 255 / height), (byte)Math.Min(255, edge + random.Next(40)));
                }
            }
        });
        using var output = new MemoryStream();
        image.SaveAsJpeg(output, new JpegEncoder { Quality = 90 });
        return output.ToArray();
    }

    private static long PeakResidentMegabytes()
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? -1 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
    }
}
