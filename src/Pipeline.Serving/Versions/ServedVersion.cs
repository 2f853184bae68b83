using Pipeline.Serving.Prediction;

namespace Pipeline.Serving.Versions;

/// <summary>
/// One loaded version and the requests using it. A version taken out of service (removed from the folder, or no longer
/// among the newest) stops taking new requests at once and is freed when the last request using it returns its lease,
/// so a request always finishes on the version it started on.
/// </summary>
internal sealed class ServedVersion
{
    private readonly Lock _gate = new();
    private readonly bool _owned;
    private int _leases;
    private bool _retired;

    /// <param name="owned">Whether retiring it frees the classifier (a classifier handed in by a caller stays the caller's).</param>
    public ServedVersion(OnnxClassifier classifier, bool owned)
    {
        Classifier = classifier;
        _owned = owned;
    }

    public OnnxClassifier Classifier { get; }

    public int Number => Classifier.Model.Version;

    /// <summary>Requests using it now.</summary>
    public int Leases
    {
        get
        {
            lock (_gate)
            {
                return _leases;
            }
        }
    }

    /// <summary>A lease for one request, or null once it is retired.</summary>
    public VersionLease? TryLease()
    {
        lock (_gate)
        {
            if (_retired)
            {
                return null;
            }
            _leases++;
            return new VersionLease(this);
        }
    }

    /// <summary>Takes no new requests; freed now if none is using it, else when the last one returns its lease.</summary>
    public void Retire()
    {
        lock (_gate)
        {
            if (_retired)
            {
                return;
            }
            _retired = true;
            if (_leases > 0)
            {
                return;
            }
        }
        Free();
    }

    internal void Return()
    {
        lock (_gate)
        {
            if (--_leases > 0 || !_retired)
            {
                return;
            }
        }
        Free();
    }

    private void Free()
    {
        if (_owned)
        {
            Classifier.Dispose();
        }
    }
}

/// <summary>A request's hold on a version: the version stays loaded until it is disposed. Dispose once.</summary>
public sealed class VersionLease : IDisposable
{
    private ServedVersion? _version;

    internal VersionLease(ServedVersion version)
    {
        _version = version;
        Classifier = version.Classifier;
    }

    public OnnxClassifier Classifier { get; }

    public int Version => Classifier.Model.Version;

    public void Dispose() => Interlocked.Exchange(ref _version, null)?.Return();
}
