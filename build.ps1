#Requires -Version 7
# Entry point on Windows (and anywhere PowerShell 7+ runs): the twin of build.sh, which is the spec. It sets up
# what the build needs on this machine, then runs the Cake task graph (build/build.cake).
#   pwsh ./build.ps1 [--target=NAME] [--dataset=NAME|PATH] [--force] [--verbosity=LEVEL]
# PowerShell 7 rather than Windows PowerShell 5.1, which has no $IsLinux/$IsWindows and no `??`; from 7.3 on,
# PowerShell also quotes native arguments properly, so dataset paths with spaces or quotes reach dotnet intact.
#
# No param() block on purpose: PowerShell's parameter binding would take `--target=Records` apart, and the
# arguments must mean exactly what they mean to build.sh, so $args is parsed by hand below.

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
# Exit codes of native commands are checked by hand, so that the script can exit with the very code they returned.
$PSNativeCommandUseErrorActionPreference = $false

$usage = @'
Usage: ./build.ps1 [--target=NAME] [--dataset=NAME|PATH] [--force] [--verbosity=LEVEL] [--cache=DIR|URL]
                  [--set=FIELD=VALUE ...] [--shard-index=I --shard-count=N]

  --target=NAME      Labels, Records, Bottlenecks, Train, Evaluate, Export, SmokePredict (default: the whole chain),
                     Release (the chain, then a release bundle), Report (the chain up to Evaluate, then
                     artifacts/<dataset>/report/index.html), Status (what is fresh or stale, and why),
                     Test (the test suite), Clean (remove outputs)
  --dataset=NAME     a dataset under datasets/ or a path to a dataset folder or dataset.json (default: fashion-mnist)
  --force            re-run the target stage even if it is fresh
  --verbosity=LEVEL  quiet, minimal, normal, verbose or diagnostic (Cake's)
  --cache=DIR|URL    run-cache folder shared between clones or CI jobs, or an http(s):// remote cache
                     (Bazel's HTTP protocol) behind artifacts/.cache (default: $PIPELINE_CACHE, else
                     artifacts/.cache; "off" for none)
  --set=FIELD=VALUE  a parameter over dataset.json's, without editing it (train.learning_rate.base=0.004);
                     repeatable; the build is recorded as a run (build/.bin/pipeline exp show)
  --shard-index=I --shard-count=N
                     with --target=Records: write only worker I's share of the shards (of N workers); copy
                     the workers' artifacts/<dataset>/records/ folders together and build Records to combine

  -Target NAME, -Dataset NAME, -Force, -Verbosity LEVEL, -Cache DIR, -Set FIELD=VALUE and -Help are accepted too.
'@

# Messages go straight to the process's stdout/stderr, as build.sh's echo does, rather than through PowerShell's
# error records, which would wrap them in a position report.
function Write-Err([string] $Message) { [Console]::Error.WriteLine($Message) }
function Stop-Build([string] $Message, [int] $Code = 1) { Write-Err $Message; exit $Code }
function Stop-Usage([string] $Message) { Write-Err $Message; Write-Err $usage; exit 2 }

# Arguments: build.sh's, matched case-sensitively as bash's `case` does, plus the PowerShell-style names, matched
# case-insensitively as PowerShell users expect. Invoked in-process, PowerShell hands `-Target:X` over as
# '-Target:' and 'X', and `-Force:$false` as '-Force:' and a [bool]; `pwsh -File` drops the colon instead.
$target = 'SmokePredict'
$dataset = 'fashion-mnist'
$force = $false
$verbosity = ''
$cache = ''
$shardIndex = ''
$shardCount = ''
$sets = [System.Collections.Generic.List[string]]::new()
for ($i = 0; $i -lt $args.Count; $i++) {
    $arg = [string] $args[$i]
    if ($arg -cmatch '^--(target|dataset|verbosity|cache|shard-index|shard-count|set)=(.*)$') {
        $name = $Matches[1]
        $value = $Matches[2]
    }
    elseif ($arg -cin '--target', '--dataset', '--verbosity', '--cache', '--shard-index', '--shard-count', '--set') {
        if ($i + 1 -ge $args.Count) { Stop-Build "build.ps1: $arg needs a value" 2 }
        $name = $arg.Substring(2)
        $value = [string] $args[++$i]
    }
    elseif ($arg -match '^-(target|dataset|verbosity|cache|set):?$') {
        if ($i + 1 -ge $args.Count) { Stop-Build "build.ps1: $($arg.TrimEnd(':')) needs a value" 2 }
        $name = $Matches[1].ToLowerInvariant()
        $value = [string] $args[++$i]
    }
    elseif ($arg -match '^-(target|dataset|verbosity|cache|set):(.+)$') {
        $name = $Matches[1].ToLowerInvariant()
        $value = $Matches[2]
    }
    elseif ($arg -ceq '--force') {
        $force = $true
        continue
    }
    elseif ($arg -match '^-force:?$') {
        $force = $true
        if ($i + 1 -lt $args.Count -and $args[$i + 1] -is [bool]) { $force = $args[++$i] }
        continue
    }
    elseif ($arg -cin '-h', '--help' -or $arg -match '^-help$') {
        [Console]::Out.WriteLine($usage)
        exit 0
    }
    else {
        Stop-Usage "build.ps1: unknown argument '$arg'"
    }
    switch ($name) {
        'target' { $target = $value }
        'dataset' { $dataset = $value }
        'verbosity' { $verbosity = $value }
        'cache' { $cache = $value }
        'shard-index' { $shardIndex = $value }
        'shard-count' { $shardCount = $value }
        'set' { $sets.Add($value) }
    }
}

# build.sh gets a process of its own, so its exports and its `cd` die with it; run in-process (./build.ps1 from a
# PowerShell prompt) this script shares the caller's environment and location, so it puts them back on the way out.
$environment = [ordered]@{
    DOTNET_CLI_TELEMETRY_OPTOUT = '1'
    DOTNET_NOLOGO = '1'
    DOTNET_SKIP_FIRST_TIME_EXPERIENCE = '1'
}
$saved = @{}
foreach ($key in $environment.Keys) {
    $saved[$key] = [Environment]::GetEnvironmentVariable($key)
}
$root = $PSScriptRoot
Push-Location -LiteralPath $root
try {
    foreach ($key in $environment.Keys) { [Environment]::SetEnvironmentVariable($key, $environment[$key]) }

    function Test-Root { $IsLinux -and ((& id -u) -eq '0') }

    function Get-DebianCodename {
        # build.sh sources the file; the last assignment wins there, and the value may be quoted.
        if (-not (Test-Path -LiteralPath /etc/os-release)) { return '' }
        $codename = ''
        foreach ($line in Get-Content -LiteralPath /etc/os-release) {
            if ($line -match '^VERSION_CODENAME=(.*)$') { $codename = $Matches[1].Trim().Trim('"', "'") }
        }
        $codename
    }

    # awk's default field splitting: leading blanks ignored, fields separated by runs of spaces or tabs.
    function Get-Fields([string] $Line) { @($Line.TrimStart(' ', "`t") -split '[ \t]+') }

    # The first mirror the machine's apt already uses for Debian itself (not the security archive).
    function Get-DebianMirror {
        $deb822 = '/etc/apt/sources.list.d/debian.sources'
        if (Test-Path -LiteralPath $deb822 -PathType Leaf) {
            $line = Get-Content -LiteralPath $deb822 | Where-Object { $_ -cmatch '^URIs:' -and $_ -cnotmatch 'security' } |
                Select-Object -First 1
            if ($null -ne $line) {
                $fields = @(Get-Fields $line)
                if ($fields.Count -ge 2 -and $fields[1]) { return $fields[1] }
            }
        }
        $list = '/etc/apt/sources.list'
        if (Test-Path -LiteralPath $list -PathType Leaf) {
            $line = Get-Content -LiteralPath $list |
                Where-Object { @(Get-Fields $_)[0] -ceq 'deb' -and $_ -cnotmatch 'security' } | Select-Object -First 1
            if ($null -ne $line) {
                $fields = @(Get-Fields $line)
                if ($fields.Count -ge 2) { return $fields[1] }
            }
        }
        ''
    }

    # Runs a native command and leaves the script with its exit code when it fails, as `set -e` does for build.sh.
    function Invoke-Checked([scriptblock] $Command) {
        & $Command
        if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    }

    # DEBIAN_FRONTEND only for the install itself, as build.sh's `VAR=value command` has it, so Cake never inherits it.
    function Install-DebianPackage([string[]] $Arguments) {
        $before = $env:DEBIAN_FRONTEND
        $env:DEBIAN_FRONTEND = 'noninteractive'
        try { & apt-get install -y -qq @Arguments > $null }
        finally { [Environment]::SetEnvironmentVariable('DEBIAN_FRONTEND', $before ?? [NullString]::Value) }
        if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    }

    # --- .NET SDK ---------------------------------------------------------------------------------------------
    if (-not (Get-Command dotnet -CommandType Application -ErrorAction SilentlyContinue)) {
        $page = if ($IsWindows) { 'windows' } elseif ($IsMacOS) { 'macos' } else { 'linux-debian' }
        Stop-Build "build.ps1: the .NET 10 SDK is required: https://learn.microsoft.com/dotnet/core/install/$page"
    }

    # --- libstdc++ new enough for TorchSharp's native library (GLIBCXX_3.4.32, GCC 13), for the stages that train
    # Linux only: TorchSharp's Windows and macOS native libraries do not load GCC's libstdc++. (No ICU check as in
    # build.sh: PowerShell itself runs on .NET, so if this script runs, ICU is there or not needed.)
    $needsTorch = @('Train', 'Evaluate', 'Export', 'SmokePredict', 'Release', 'Test') -ccontains $target
    if ($IsLinux -and $needsTorch) {
        $libstdcxx = @('/usr/lib/x86_64-linux-gnu/libstdc++.so.6', '/usr/lib/aarch64-linux-gnu/libstdc++.so.6',
            '/usr/lib64/libstdc++.so.6') | Where-Object { Test-Path -LiteralPath $_ } | Select-Object -First 1
        # The version tag is plain ASCII inside the binary; Latin-1 maps every byte to one char, so nothing is lost.
        function Test-Glibcxx { [Text.Encoding]::Latin1.GetString([IO.File]::ReadAllBytes($libstdcxx)).Contains('GLIBCXX_3.4.32') }
        if ($libstdcxx -and -not (Test-Glibcxx)) {
            if ((Test-Root) -and (Get-DebianCodename) -ceq 'bookworm') {
                Write-Host "build.ps1: $libstdcxx lacks GLIBCXX_3.4.32 (TorchSharp needs GCC 13's libstdc++); installing libstdc++6 from Debian 13 (trixie)"
                Write-Host "  (it brings trixie's libc6, libgcc-s1 and base-files with it; the pin keeps everything else on bookworm)"
                # The mirror already configured for bookworm serves trixie too; no host name is written here.
                $mirror = Get-DebianMirror
                if (-not $mirror) {
                    Stop-Build 'build.ps1: found no Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list'
                }
                try {
                    [IO.File]::WriteAllText('/etc/apt/sources.list.d/pipeline-trixie.sources',
                        "Types: deb`nURIs: $mirror`nSuites: trixie`nComponents: main`nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg`n")
                    [IO.File]::WriteAllText('/etc/apt/preferences.d/pipeline-trixie', "Package: *`nPin: release n=trixie`nPin-Priority: 100`n")
                }
                catch {
                    Stop-Build "build.ps1: $($_.Exception.Message)"
                }
                Invoke-Checked { & apt-get update -qq }
                Install-DebianPackage -Arguments '-t', 'trixie', 'libstdc++6'
                if (-not (Test-Glibcxx)) { Stop-Build 'build.ps1: libstdc++6 from trixie did not provide GLIBCXX_3.4.32' }
            }
            else {
                Stop-Build @"
build.ps1: $libstdcxx lacks GLIBCXX_3.4.32; TorchSharp (training) needs libstdc++ from GCC 13 or newer.
  On Debian 12, as root:
    printf 'Types: deb\nURIs: <your Debian mirror, as in /etc/apt/sources.list.d/debian.sources>\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' > /etc/apt/sources.list.d/pipeline-trixie.sources
    printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' > /etc/apt/preferences.d/pipeline-trixie
    apt-get update && apt-get install -t trixie libstdc++6
  Elsewhere: install GCC 13's libstdc++ (or newer) from your distribution.
"@
            }
        }
    }

    # --- a font for the evaluation plots (labels would be blank without one) --------------------------------
    if ($IsLinux -and (@('Evaluate', 'Export', 'SmokePredict', 'Release', 'Test') -ccontains $target) -and
        -not (Get-ChildItem -Path /usr/share/fonts -Filter *.ttf -Recurse -ErrorAction SilentlyContinue | Select-Object -First 1)) {
        if ((Test-Root) -and (Get-Command apt-get -ErrorAction SilentlyContinue)) {
            Write-Host 'build.ps1: installing a font for the evaluation plots (fonts-dejavu-core)'
            Install-DebianPackage -Arguments 'fonts-dejavu-core'
        }
        else {
            Stop-Build 'build.ps1: no TrueType font under /usr/share/fonts: the plots need one; install it with: sudo apt-get install fonts-dejavu-core'
        }
    }

    # --- the default dataset's files ------------------------------------------------------------------------
    # datasets/fashion-mnist/dataset.json names this absolute path. The engine resolves it with .NET's
    # Path.GetFullPath, which on Windows puts it on the current drive (the repository's, since Cake runs from here),
    # so resolving it against $root checks the same file the engine will read.
    $fashionFolder = [IO.Path]::GetFullPath('/usr/share/datasets/fashion-mnist', $root)
    $fashion = Join-Path $fashionFolder 'train-images-idx3-ubyte.gz'
    if (($dataset -ceq 'fashion-mnist' -or $target -ceq 'Test') -and -not (Test-Path -LiteralPath $fashion)) {
        if ($IsLinux -and (Test-Root) -and (Get-Command apt-get -CommandType Application -ErrorAction SilentlyContinue)) {
            Write-Host 'build.ps1: installing Fashion-MNIST (Debian package dataset-fashion-mnist)'
            & apt-cache show dataset-fashion-mnist *> $null
            if ($LASTEXITCODE -ne 0) { Invoke-Checked { & apt-get update -qq } }
            Install-DebianPackage -Arguments 'dataset-fashion-mnist'
        }
        elseif ($IsLinux) {
            Stop-Build "build.ps1: Fashion-MNIST is missing ($fashion); install it with: sudo apt-get install dataset-fashion-mnist"
        }
        else {
            # No package manager here ships these files, so say what the build reads and where.
            Stop-Build @"
build.ps1: Fashion-MNIST is missing ($fashion).
  datasets/fashion-mnist/dataset.json reads its four gzipped IDX files from /usr/share/datasets/fashion-mnist,
  which here means ${fashionFolder}:
    train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz  t10k-images-idx3-ubyte.gz  t10k-labels-idx1-ubyte.gz
  Either copy them there (a Debian or Ubuntu machine has them in /usr/share/datasets/fashion-mnist after
  'apt-get install dataset-fashion-mnist'), or put them anywhere, copy datasets/fashion-mnist/dataset.json into a
  folder of your own, point its "images" and "labels" paths at them (relative paths are relative to that folder;
  %VARIABLES% are expanded), and run with --dataset=<that folder>.
"@
        }
    }

    # --- the Cake runner (pinned in .config/dotnet-tools.json) -----------------------------------------------
    $packages = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path $HOME '.nuget/packages' }
    if (-not (Test-Path -LiteralPath (Join-Path $packages 'cake.tool/7.0.0') -PathType Container)) {
        Invoke-Checked { & dotnet tool restore > $null }
    }

    # --- the engine the Cake script loads; rebuilt only when its sources changed -----------------------------
    # The same signature as build.sh's: every source file with its modification time (to the microsecond),
    # bin/ and obj/ left out, sorted, SHA-256. An edit, an added or a deleted file all change it.
    function Get-SourceSignature {
        $epochTicks = [DateTime]::UnixEpoch.Ticks
        $lines = [Collections.Generic.List[string]]::new()
        $pending = [Collections.Generic.Stack[object]]::new()
        foreach ($top in 'src', 'Directory.Build.props', 'Directory.Packages.props', 'global.json') {
            $full = Join-Path $root $top
            if ([IO.Directory]::Exists($full)) { $pending.Push(@($top, [IO.DirectoryInfo]::new($full))) }
            elseif ([IO.File]::Exists($full)) { $pending.Push(@($top, [IO.FileInfo]::new($full))) }
        }
        while ($pending.Count -gt 0) {
            $relative, $info = $pending.Pop()
            if ($info -is [IO.DirectoryInfo]) {
                if ($info.Name -eq 'bin' -or $info.Name -eq 'obj') { continue }
                foreach ($child in $info.EnumerateFileSystemInfos()) { $pending.Push(@("$relative/$($child.Name)", $child)) }
                continue
            }
            # Integer division throughout: PowerShell's / gives a double, which would round the last digit.
            $micro = [Math]::DivRem([long]($info.LastWriteTimeUtc.Ticks - $epochTicks), [long]10).Item1
            $split = [Math]::DivRem($micro, [long]1000000)
            $seconds, $fraction = $split.Item1, $split.Item2
            $lines.Add(('{0} {1}.{2:D6}' -f $relative, $seconds, $fraction))
        }
        $lines.Sort([StringComparer]::Ordinal)
        $text = [string]::Concat(($lines | ForEach-Object { "$_`n" }))
        [Convert]::ToHexStringLower([Security.Cryptography.SHA256]::HashData([Text.Encoding]::UTF8.GetBytes($text)))
    }

    $bin = Join-Path $root 'build/.bin'
    $stamp = Join-Path $bin '.built'
    $signature = Get-SourceSignature
    $cakeArgs = [Collections.Generic.List[string]]::new()
    $built = if (Test-Path -LiteralPath $stamp) { [IO.File]::ReadAllText($stamp).Trim() } else { '' }
    if ($built -ne $signature) {
        Write-Host 'build.ps1: building the pipeline engine'
        Invoke-Checked { & dotnet build src/Pipeline.Cli/Pipeline.Cli.csproj -c Release -o $bin -nologo -v quiet '-clp:ErrorsOnly' }
        [IO.File]::WriteAllText($stamp, "$signature`n")
        $cakeArgs.Add('--invalidate-script-cache')
    }

    $cakeArgs.Add("--target=$target")
    $cakeArgs.Add("--dataset=$dataset")
    if ($force) { $cakeArgs.Add('--force') }
    if ($verbosity) { $cakeArgs.Add("--verbosity=$verbosity") }
    if ($cache) { $cakeArgs.Add("--cache=$cache") }
    if ($shardIndex) { $cakeArgs.Add("--shard-index=$shardIndex") }
    if ($shardCount) { $cakeArgs.Add("--shard-count=$shardCount") }
    foreach ($set in $sets) { $cakeArgs.Add("--set=$set") }
    & dotnet tool run dotnet-cake build/build.cake @cakeArgs
    exit $LASTEXITCODE
}
finally {
    Pop-Location
    # [NullString] because PowerShell would pass a plain $null as '', which is not the same as unset.
    foreach ($key in $saved.Keys) {
        [Environment]::SetEnvironmentVariable($key, $saved[$key] ?? [NullString]::Value)
    }
}
