using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Pipeline.Core.Tests.TestSupport;

/// <summary>
/// Debian's nginx serving a remote cache from the repository's own config (build/deploy/remote-cache/nginx.conf) on
/// a free loopback port, in a folder of the test's: started, killed (SIGKILL, workers and master, as a crash would)
/// and started again by the test, and stopped by its pid when disposed.
/// </summary>
public sealed class NginxServer : IDisposable
{
    /// <summary>Set (build.sh sets it for the Test target, after installing nginx) to fail rather than skip without nginx.</summary>
    public const string RequireVariable = "PIPELINE_REQUIRE_NGINX";

    private readonly string _folder;
    private Process? _master;

    public NginxServer(string folder)
    {
        if (Binary is null)
        {
            throw new InvalidOperationException($"{RequireVariable} is set, but nginx is not installed (apt-get install nginx)");
        }
        _folder = folder;
        Directory.CreateDirectory(Path.Combine(folder, "tmp"));
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var config = File.ReadAllText(Path.Combine(Repository.Root, "build", "deploy", "remote-cache", "nginx.conf"));
        const string listen = "listen 127.0.0.1:8080;";
        Assert.Contains(listen, config, StringComparison.Ordinal);
        File.WriteAllText(ConfigPath, config.Replace(listen, $"listen 127.0.0.1:{Port};", StringComparison.Ordinal));
        Start();
    }

    /// <summary>nginx's path, or null where it is not installed.</summary>
    public static string? Binary { get; } = new[] { "/usr/sbin/nginx", "/usr/bin/nginx" }.FirstOrDefault(File.Exists);

    public int Port { get; }

    /// <summary>The remote cache's URL.</summary>
    public string Url => $"http://127.0.0.1:{Port}/cache";

    /// <summary>Where nginx keeps what was PUT under <see cref="Url"/>.</summary>
    public string StoreFolder => Path.Combine(_folder, "store", "cache");

    private string ConfigPath => Path.Combine(_folder, "nginx.conf");

    public void Start()
    {
        _master = Process.Start(new ProcessStartInfo(Binary!, ["-p", _folder, "-c", ConfigPath, "-e", Path.Combine(_folder, "error.log")])
        {
            UseShellExecute = false,
        })!;
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !_master.HasExited)
            {
                Thread.Sleep(50);
            }
            catch (SocketException e)
            {
                var log = Path.Combine(_folder, "error.log");
                throw new InvalidOperationException($"nginx did not start on port {Port}: {(File.Exists(log) ? File.ReadAllText(log) : "(no error.log)")}", e);
            }
        }
    }

    /// <summary>SIGKILL to the workers and the master: requests in flight are cut, nothing is flushed.</summary>
    public void Kill()
    {
        if (_master is null)
        {
            return;
        }
        // Every process holding the listening socket, not only the master's children as /proc lists them at this moment:
        // a fresh CI clone under load once saw requests answered after the kill, so nothing that can answer is missed.
        KillAll(Children(_master.Id).Union(ListeningProcesses(Port)).Where(pid => pid != _master.Id));
        if (!_master.HasExited)
        {
            _master.Kill();
        }
        _master.WaitForExit();
        // Killed means refused: wait until no process accepts on the port any more (the kernel tears the last one down).
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Accepts(Port))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"nginx still accepts on port {Port} 10 s after SIGKILL; processes holding it: {string.Join(", ", ListeningProcesses(Port))}");
            }
            KillAll(ListeningProcesses(Port));
            Thread.Sleep(20);
        }
        _master.Dispose();
        _master = null;
    }

    public void Dispose() => Kill();

    /// <summary>SIGKILL to each; one already gone is skipped.</summary>
    private static void KillAll(IEnumerable<int> pids)
    {
        foreach (var pid in pids)
        {
            try
            {
                Process.GetProcessById(pid).Kill();
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                // Already gone.
            }
        }
    }

    private static bool Accepts(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The processes holding a listening IPv4 socket on the port: the socket's inode from /proc/net/tcp, then its holders' fds.</summary>
    public static IReadOnlyList<int> ListeningProcesses(int port)
    {
        var suffix = ":" + port.ToString("X4", CultureInfo.InvariantCulture);
        var inodes = File.ReadLines("/proc/net/tcp").Skip(1)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length > 9 && f[1].EndsWith(suffix, StringComparison.Ordinal) && f[3] == "0A")
            .Select(f => $"socket:[{f[9]}]")
            .ToHashSet(StringComparer.Ordinal);
        var holders = new List<int>();
        if (inodes.Count == 0)
        {
            return holders;
        }
        foreach (var process in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(process), CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            try
            {
                if (Directory.EnumerateFileSystemEntries(Path.Combine(process, "fd")).Any(fd => new FileInfo(fd).LinkTarget is { } target && inodes.Contains(target)))
                {
                    holders.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone, or not ours to read.
            }
        }
        return holders;
    }

    public static IEnumerable<int> Children(int parent)
    {
        foreach (var stat in Directory.EnumerateDirectories("/proc").Select(d => Path.Combine(d, "stat")))
        {
            string text;
            try
            {
                text = File.ReadAllText(stat);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            // pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis.
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            if (int.TryParse(fields[1], CultureInfo.InvariantCulture, out var ppid) && ppid == parent
                && int.TryParse(Path.GetFileName(Path.GetDirectoryName(stat)), CultureInfo.InvariantCulture, out var pid))
            {
                yield return pid;
            }
        }
    }
}

/// <summary>A test against a real nginx: skipped, saying why, where it is not installed, unless <see cref="NginxServer.RequireVariable"/> is set.</summary>
public sealed class NginxFactAttribute : FactAttribute
{
    public NginxFactAttribute()
    {
        if (NginxServer.Binary is null && Environment.GetEnvironmentVariable(NginxServer.RequireVariable) is null)
        {
            Skip = $"nginx is not installed (apt-get install nginx; ./build.sh --target=Test installs it and sets {NginxServer.RequireVariable})";
        }
        else if (!OperatingSystem.IsLinux())
        {
            Skip = "the nginx test reads /proc to stop nginx's workers";
        }
    }
}
