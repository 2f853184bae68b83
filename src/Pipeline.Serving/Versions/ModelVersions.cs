using System.Diagnostics;
using System.Globalization;
using System.Text;
using Pipeline.Core.Engine;
using Pipeline.Serving.Export;
using Pipeline.Serving.Prediction;

namespace Pipeline.Serving.Versions;

/// <summary>How a server picks and watches the versions of an export folder.</summary>
public sealed record VersionOptions
{
    /// <summary>Serve the newest this many versions that load; 0 serves every version (TF Serving's "all" policy).</summary>
    public int Keep { get; init; }

    /// <summary>The version labels file; null means version_labels.json in the export folder, when there is one.</summary>
    public string? LabelsFile { get; init; }

    /// <summary>How often the folder is looked at for new, removed and relabelled versions.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>ONNX Runtime threads per prediction (0: one per core).</summary>
    public int Threads { get; init; }

    /// <summary>The largest image a version's decoder accepts, from its header.</summary>
    public long MaxPixels { get; init; } = Core.Images.InputImageDecoder.DefaultMaxPixels;

    /// <summary>The image formats taken from clients (<see cref="Core.Images.ImageFormats"/>): by default those browsers and phones send.</summary>
    public IReadOnlyList<string> ImageFormats { get; init; } = Core.Images.ImageFormats.Network;
}

/// <summary>A version's state as TF Serving's GetModelStatus reports it: LOADING, AVAILABLE, UNLOADING, or END with an error.</summary>
public sealed record VersionStatus(int Version, string State, string? Error = null);

/// <summary>A request for a version this server does not serve now.</summary>
/// <param name="Transient">True when it will be served shortly (it is loading): the client should retry, not give up.</param>
public sealed class VersionUnavailableException(string message, bool transient) : Exception(message)
{
    public bool Transient { get; } = transient;
}

/// <summary>
/// The versions one server serves. From an export folder: every version in it (or the newest K that load), watched by
/// polling: a new version folder is loaded once its files have stopped changing between two looks and it passes the
/// load checks (<see cref="LoadChecked"/>); one that fails is reported in the status, not served, and tried again only
/// when its files change; a removed version stops taking requests and is freed when its last request finishes. Version
/// labels ("stable", "canary") come from a JSON file, re-read when it changes. Requests without a version get the
/// highest available one, as TF Serving's do. A version is never reloaded in place: publish a new number.
/// </summary>
public sealed class ModelVersions : IDisposable
{
    /// <summary>The labels file looked for in the export folder when none is named.</summary>
    public const string LabelsFileName = "version_labels.json";

    private readonly Lock _gate = new();
    private readonly Lock _polling = new();
    private readonly string? _folder;
    private readonly VersionOptions _options;
    private readonly Action<string> _log;
    private readonly string? _labelsPath;

    // Under _gate: what requests and status readers see.
    private Dictionary<int, ServedVersion> _available = [];
    private readonly Dictionary<int, (string Listing, string Error)> _failed = [];
    private readonly Dictionary<int, string> _settling = [];
    private readonly List<ServedVersion> _unloading = [];
    private static readonly IReadOnlyDictionary<string, int> NoLabels = new Dictionary<string, int>(StringComparer.Ordinal);

    private IReadOnlyDictionary<string, int> _labels = NoLabels;
    private string? _labelsListing;
    private string? _labelsError;

    private CancellationTokenSource? _stopPolling;
    private Task? _pollLoop;
    private int _disposed;

    private ModelVersions(string? folder, VersionOptions options, Action<string> log, string? labelsPath)
    {
        _folder = folder;
        _options = options;
        _log = log;
        _labelsPath = labelsPath;
    }

    /// <summary>Called when the folder's polling loads or refuses a version: its number and whether it loaded.</summary>
    public Action<int, bool>? OnLoaded { get; set; }

    /// <summary>The export folder it watches; null when it serves one fixed version.</summary>
    public string? Folder => _folder;

    /// <summary>One version the caller loaded and keeps owning: served alone, never polled.</summary>
    public static ModelVersions Single(OnnxClassifier classifier)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        var versions = new ModelVersions(null, new VersionOptions(), _ => { }, null);
        versions._available = new() { [classifier.Model.Version] = new ServedVersion(classifier, owned: false) };
        return versions;
    }

    /// <summary>
    /// Loads what <paramref name="path"/> names: a version folder (served alone, never polled), or an export folder or its
    /// "latest" file (its versions, polled once <see cref="StartPolling"/> is called).
    /// </summary>
    /// <exception cref="PipelineException">Nothing exported there, or no version of it passes the load checks; the message says why for each.</exception>
    public static ModelVersions Open(string path, VersionOptions options, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var full = Path.GetFullPath(path);
        log ??= _ => { };
        if (Directory.Exists(full) && File.Exists(Path.Combine(full, ModelCard.FileName)))
        {
            var single = new ModelVersions(null, options, log, null);
            var classifier = LoadChecked(full, options);
            single._available = new() { [classifier.Model.Version] = new ServedVersion(classifier, owned: true) };
            return single;
        }
        var folder = File.Exists(full) && Path.GetFileName(full) == ExportedModel.LatestPointer ? Path.GetDirectoryName(full)! : full;
        if (!Directory.Exists(folder))
        {
            throw new PipelineException("no such file or folder; pass an export folder (artifacts/<dataset>/export), its \"latest\" file, or a version folder", path);
        }
        if (ExportedModel.Versions(folder).Count == 0)
        {
            throw new PipelineException("no version folders (1, 2, …) here: not an export folder; build one with ./build.sh --target=Export", folder);
        }
        var labels = options.LabelsFile is { } named ? Path.GetFullPath(named) : Path.Combine(folder, LabelsFileName);
        if (options.LabelsFile is not null && !File.Exists(labels))
        {
            throw new PipelineException("no such version labels file; write one like {\"stable\": 1}", options.LabelsFile);
        }
        var versions = new ModelVersions(folder, options, log, labels);
        versions.Poll(initial: true);
        if (versions.Available().Count == 0)
        {
            var failures = versions.Statuses().Where(s => s.Error is not null).Select(s => $"version {s.Version}: {s.Error}");
            versions.Dispose();
            throw new PipelineException($"no version loads: {string.Join("; ", failures)}", folder);
        }
        if (options.LabelsFile is not null && versions._labelsError is { } error)
        {
            versions.Dispose();
            throw new PipelineException(error, labels);
        }
        return versions;
    }

    /// <summary>
    /// Opens a version folder and makes the checks of SmokePredict that need no dataset: the card, labels and files
    /// agree, ONNX Runtime loads the graph with the card's input and output shapes, and a probe batch gives finite
    /// probabilities summing to 1 (which also warms the session, so the first request does not pay for it).
    /// </summary>
    /// <exception cref="PipelineException">A check fails; the message says which.</exception>
    public static OnnxClassifier LoadChecked(string versionFolder, VersionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var classifier = OnnxClassifier.Load(ExportedModel.Open(versionFolder), options.Threads, options.MaxPixels, options.ImageFormats);
        try
        {
            var perImage = classifier.Card.Input.ValuesPerImage;
            var probe = new float[2 * perImage];
            for (var i = 0; i < perImage; i++)
            {
                probe[perImage + i] = i % 2 == 0 ? 1f : -1f;
            }
            var probabilities = classifier.Probabilities(probe, 2);
            var classes = classifier.Card.Classes.Count;
            for (var row = 0; row < 2; row++)
            {
                var values = probabilities.AsSpan(row * classes, classes);
                var sum = 0.0;
                foreach (var p in values)
                {
                    if (!float.IsFinite(p) || p < 0)
                    {
                        throw new PipelineException($"the graph answers a probability of {p.ToString(CultureInfo.InvariantCulture)} for a probe input; "
                            + "a servable model's probabilities are finite and at least 0", classifier.Model.OnnxPath);
                    }
                    sum += p;
                }
                if (Math.Abs(sum - 1) > 1e-4)
                {
                    throw new PipelineException($"the graph's probabilities for a probe input sum to {sum.ToString("0.######", CultureInfo.InvariantCulture)}, not 1",
                        classifier.Model.OnnxPath);
                }
            }
            return classifier;
        }
        catch
        {
            classifier.Dispose();
            throw;
        }
    }

    /// <summary>Looks at the folder every <see cref="VersionOptions.PollInterval"/> until disposed; does nothing for a single version.</summary>
    public void StartPolling()
    {
        if (_folder is null || _pollLoop is not null)
        {
            return;
        }
        if (Volatile.Read(ref _disposed) == 1)
        {
            throw new ObjectDisposedException(nameof(ModelVersions));
        }
        _stopPolling = new CancellationTokenSource();
        var stop = _stopPolling.Token;
        // PeriodicTimer refuses periods under a millisecond; a look every 10 ms is already more than any folder needs.
        var interval = _options.PollInterval < TimeSpan.FromMilliseconds(10) ? TimeSpan.FromMilliseconds(10) : _options.PollInterval;
        _pollLoop = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(interval);
            try
            {
                while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
                {
                    try
                    {
                        Poll();
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        // A server outlives a bad look at its folder: the next look tries again.
                        _log($"warning: could not look at {_folder}: {e.Message}");
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        }, stop);
    }

    /// <summary>One look at the folder: loads settled new versions, retires removed and surplus ones, re-reads the labels.</summary>
    public void Poll() => Poll(initial: false);

    private void Poll(bool initial)
    {
        if (_folder is null)
        {
            return;
        }
        lock (_polling)
        {
            if (Volatile.Read(ref _disposed) == 1)
            {
                return;
            }
            ReadLabels();
            var present = ExportedModel.Versions(_folder);
            Dictionary<int, ServedVersion> available;
            lock (_gate)
            {
                available = new Dictionary<int, ServedVersion>(_available);
                foreach (var gone in _failed.Keys.Concat(_settling.Keys).Except(present).ToList())
                {
                    _failed.Remove(gone);
                    _settling.Remove(gone);
                }
            }
            var wanted = new HashSet<int>();
            var pending = false;
            foreach (var version in present.OrderDescending())
            {
                if (_options.Keep > 0 && wanted.Count == _options.Keep)
                {
                    break;
                }
                if (available.ContainsKey(version))
                {
                    wanted.Add(version);
                    continue;
                }
                var folder = VersionFolder(version);
                var listing = Listing(folder);
                bool settled;
                lock (_gate)
                {
                    if (_failed.TryGetValue(version, out var failed) && failed.Listing == listing)
                    {
                        continue; // still the broken files: reported, not counted, not retried
                    }
                    _failed.Remove(version);
                    // A folder being copied in changes between looks; it is loaded once two looks see the same files.
                    settled = initial || (_settling.TryGetValue(version, out var seen) && seen == listing);
                    if (!settled)
                    {
                        _settling[version] = listing;
                    }
                }
                wanted.Add(version);
                if (!settled)
                {
                    pending = true;
                    continue;
                }
                var loaded = Load(version, folder, listing);
                if (loaded is null)
                {
                    wanted.Remove(version);
                    continue;
                }
                available[version] = loaded;
                lock (_gate)
                {
                    _settling.Remove(version);
                    _available = new Dictionary<int, ServedVersion>(available);
                }
            }
            lock (_gate)
            {
                // A version still being copied in that newer ones pushed out of the newest K is no longer loading.
                foreach (var passed in _settling.Keys.Where(v => !wanted.Contains(v)).ToList())
                {
                    _settling.Remove(passed);
                }
            }
            // Availability first: a version leaves only when it is gone from the folder, or when every version wanted
            // instead has loaded or failed (a version still being copied in does not yet push an old one out).
            var leaving = available.Keys.Where(v => !present.Contains(v) || (!wanted.Contains(v) && !pending)).ToList();
            if (leaving.Count > 0)
            {
                lock (_gate)
                {
                    foreach (var version in leaving)
                    {
                        var served = available[version];
                        available.Remove(version);
                        served.Retire();
                        _unloading.Add(served);
                        _log($"version {version} unloaded: {(present.Contains(version) ? "no longer among the newest " + _options.Keep.ToString(CultureInfo.InvariantCulture) : "its folder is gone")}"
                            + (served.Leases > 0 ? $"; {served.Leases} request(s) finish on it first" : ""));
                    }
                    _available = available;
                }
            }
            lock (_gate)
            {
                _unloading.RemoveAll(v => v.Leases == 0);
            }
        }
    }

    private ServedVersion? Load(int version, string folder, string listing)
    {
        var clock = Stopwatch.StartNew();
        OnnxClassifier classifier;
        try
        {
            classifier = LoadChecked(folder, _options);
        }
        catch (Exception e) when (e is not (OutOfMemoryException or OperationCanceledException))
        {
            // Whatever a broken version throws (ONNX Runtime failing on the probe included), it is this version's
            // problem, reported and not retried until its files change.
            lock (_gate)
            {
                _failed[version] = (listing, e.Message);
                _settling.Remove(version);
            }
            _log($"version {version} is not served: {e.Message}");
            OnLoaded?.Invoke(version, false);
            return null;
        }
        _log($"version {version} loaded in {clock.Elapsed.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture)} s "
            + $"({classifier.Card.Architecture}, {classifier.Card.Classes.Count} classes)");
        OnLoaded?.Invoke(version, true);
        return new ServedVersion(classifier, owned: true);
    }

    /// <summary>A lease on the version a request asks for: a number, a label, or neither (the highest available).</summary>
    /// <exception cref="VersionUnavailableException">No such version or label, or it is not available; the message says why.</exception>
    public VersionLease Lease(int? version = null, string? label = null)
    {
        lock (_gate)
        {
            if (label is not null)
            {
                if (!_labels.TryGetValue(label, out var labelled))
                {
                    throw new VersionUnavailableException($"no version is labelled \"{label}\"; {LabelsText()}", transient: false);
                }
                version = labelled;
            }
            var number = version ?? (_available.Count > 0 ? _available.Keys.Max() : (int?)null);
            if (number is null)
            {
                throw new VersionUnavailableException("no version is available", transient: _settling.Count > 0);
            }
            var named = label is null ? $"version {number}" : $"version {number} (labelled \"{label}\")";
            if (_available.TryGetValue(number.Value, out var served) && served.TryLease() is { } lease)
            {
                return lease;
            }
            if (_settling.ContainsKey(number.Value))
            {
                throw new VersionUnavailableException($"{named} is loading; retry shortly", transient: true);
            }
            if (_failed.TryGetValue(number.Value, out var failed))
            {
                throw new VersionUnavailableException($"{named} is not served: it failed to load: {failed.Error}", transient: false);
            }
            throw new VersionUnavailableException($"{named} is not served; available: {AvailableText()}", transient: false);
        }
    }

    /// <summary>Available version numbers, ascending.</summary>
    public IReadOnlyList<int> Available()
    {
        lock (_gate)
        {
            return [.. _available.Keys.Order()];
        }
    }

    /// <summary>Every version this server knows of, newest first: available, loading, unloading, and failed (END with its error).</summary>
    public IReadOnlyList<VersionStatus> Statuses()
    {
        lock (_gate)
        {
            var statuses = _available.Keys.Select(v => new VersionStatus(v, "AVAILABLE"))
                .Concat(_settling.Keys.Select(v => new VersionStatus(v, "LOADING")))
                .Concat(_failed.Select(f => new VersionStatus(f.Key, "END", f.Value.Error)))
                .Concat(_unloading.Where(u => u.Leases > 0 && !_available.ContainsKey(u.Number)).Select(u => new VersionStatus(u.Number, "UNLOADING")));
            return [.. statuses.OrderByDescending(s => s.Version)];
        }
    }

    /// <summary>The labels and the versions they name, and the labels file's problem when its last reading failed (the labels before it stay).</summary>
    public (IReadOnlyDictionary<string, int> Labels, string? Error) Labels()
    {
        lock (_gate)
        {
            return (_labels, _labelsError);
        }
    }

    /// <summary>Re-reads the labels file when its size or time changed; a broken file keeps the labels before it and is reported.</summary>
    private void ReadLabels()
    {
        if (_labelsPath is null)
        {
            return;
        }
        var file = new FileInfo(_labelsPath);
        var listing = file.Exists ? $"{file.Length}:{file.LastWriteTimeUtc.Ticks}" : null;
        if (listing == _labelsListing)
        {
            return;
        }
        _labelsListing = listing;
        try
        {
            var labels = listing is null ? NoLabels : VersionLabels.Read(_labelsPath);
            lock (_gate)
            {
                _labels = labels;
                _labelsError = null;
            }
            _log(labels.Count == 0 ? "no version labels" : $"version labels: {string.Join(", ", labels.Select(l => $"{l.Key} → {l.Value}"))}");
        }
        catch (PipelineException e)
        {
            lock (_gate)
            {
                _labelsError = e.Message;
            }
            _log($"warning: the version labels stay as they were: {e.Message}");
        }
    }

    private string LabelsText() => _labels.Count == 0
        ? "this model has no version labels"
        : "labels: " + string.Join(", ", _labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key} → {l.Value}"));

    private string AvailableText() => _available.Count == 0 ? "none" : string.Join(", ", _available.Keys.Order());

    private string VersionFolder(int version) => Path.Combine(_folder!, version.ToString(CultureInfo.InvariantCulture));

    /// <summary>The files of a version folder with their sizes and times: equal on two looks means nothing is still being written.</summary>
    internal static string Listing(string folder)
    {
        var text = new StringBuilder();
        try
        {
            foreach (var file in new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories).OrderBy(f => f.FullName, StringComparer.Ordinal))
            {
                text.Append(CultureInfo.InvariantCulture, $"{Path.GetRelativePath(folder, file.FullName)}\t{file.Length}\t{file.LastWriteTimeUtc.Ticks}\n");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A folder removed or locked while it is listed: different from any listing of files, so it is looked at again.
            text.Append(CultureInfo.InvariantCulture, $"unreadable: {e.Message}");
        }
        return text.ToString();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        _stopPolling?.Cancel();
        try
        {
            _pollLoop?.Wait(TimeSpan.FromSeconds(30));
        }
        catch (AggregateException)
        {
        }
        _stopPolling?.Dispose();
        // A look still loading a version finishes first (it holds _polling), and none starts after: nothing loaded
        // after this point is left unfreed.
        lock (_polling)
        {
            lock (_gate)
            {
                foreach (var served in _available.Values)
                {
                    served.Retire();
                }
                _available = [];
            }
        }
    }
}
