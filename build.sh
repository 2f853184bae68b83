#!/usr/bin/env bash
# Entry point: sets up what the build needs on this machine, then runs the Cake task graph (build/build.cake).
#   ./build.sh [--target=NAME] [--dataset=NAME|PATH] [--force] [--verbosity=LEVEL] [--cache=DIR|URL] [--set=FIELD=VALUE ...]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"

usage() {
  cat <<'USAGE'
Usage: ./build.sh [--target=NAME] [--dataset=NAME|PATH] [--force] [--verbosity=LEVEL] [--cache=DIR|URL]
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
USAGE
}

target="SmokePredict"
dataset="fashion-mnist"
force=""
verbosity=""
cache=""
shard_index=""
shard_count=""
sets=()
while [ $# -gt 0 ]; do
  arg="$1"
  case "$arg" in
    --target=*) target="${arg#*=}" ;;
    --dataset=*) dataset="${arg#*=}" ;;
    --verbosity=*) verbosity="${arg#*=}" ;;
    --cache=*) cache="${arg#*=}" ;;
    --shard-index=*) shard_index="${arg#*=}" ;;
    --shard-count=*) shard_count="${arg#*=}" ;;
    --set=*) sets+=("${arg#*=}") ;;
    --target|--dataset|--verbosity|--cache|--shard-index|--shard-count|--set)
      [ $# -ge 2 ] || { echo "build.sh: $arg needs a value" >&2; exit 2; }
      case "$arg" in
        --target) target="$2" ;;
        --dataset) dataset="$2" ;;
        --verbosity) verbosity="$2" ;;
        --cache) cache="$2" ;;
        --shard-index) shard_index="$2" ;;
        --shard-count) shard_count="$2" ;;
        --set) sets+=("$2") ;;
      esac
      shift ;;
    --force) force="--force" ;;
    -h|--help) usage; exit 0 ;;
    *) echo "build.sh: unknown argument '$arg'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

is_root() { [ "$(id -u)" = 0 ]; }
debian_codename() { [ -r /etc/os-release ] && . /etc/os-release && echo "${VERSION_CODENAME:-}"; }

# --- .NET SDK, and ICU, which the SDK will not start without -----------------------------------------------
if ! command -v dotnet >/dev/null 2>&1; then
  echo "build.sh: the .NET 10 SDK is required: https://learn.microsoft.com/dotnet/core/install/linux-debian" >&2
  exit 1
fi
apt_install() { # apt_install [apt-get options] PACKAGE...: quiet, but say what apt changes; a failure stops the build
  [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ] || apt-get update -qq
  local log status=0
  log="$(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" 2>&1)" || status=$?
  printf '%s\n' "$log" | sed -n -E 's/^(Setting up|Unpacking)/  &/p'
  if [ "$status" != 0 ]; then
    printf '%s\n' "$log" | tail -n 20 >&2
    echo "build.sh: apt-get install $* failed (exit $status)" >&2
    exit 1
  fi
}
# apt_install, with a policy-rc.d (unless the machine has one) that keeps the packages' services from starting: the
# tests start nginx, munge and Slurm themselves, on free ports, and stop them by pid.
apt_install_without_services() {
  local policy="" status=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy=1
  fi
  ( apt_install "$@" ) || status=$?
  [ -z "$policy" ] || rm -f /usr/sbin/policy-rc.d
  [ "$status" = 0 ] || exit "$status"
}
# Whether the dynamic linker knows ICU. The listing is read whole into a variable and matched by the shell: piped
# into `grep -q`, which exits at the first match, ldconfig would die of SIGPIPE and, under pipefail, the check would
# fail at random and send a no-op build to apt-get.
has_icu() {
  local libraries
  libraries="$(ldconfig -p 2>/dev/null)" || return 1
  case "$libraries" in *libicuuc.so*) return 0 ;; *) return 1 ;; esac
}
if [ "$(uname -s)" = Linux ] && [ -z "${DOTNET_SYSTEM_GLOBALIZATION_INVARIANT:-}" ] && command -v ldconfig >/dev/null 2>&1 \
   && ! has_icu; then
  icu=""
  if is_root && command -v apt-get >/dev/null 2>&1; then
    [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ] || apt-get update -qq
    case "$(debian_codename)" in
      bookworm) icu=libicu72 ;;
      trixie) icu=libicu76 ;;
      *) icu="$(apt-cache pkgnames libicu 2>/dev/null | grep -E '^libicu[0-9]+$' | sort -V | tail -n 1)" ;;
    esac
  fi
  if [ -n "$icu" ]; then
    echo "build.sh: the .NET SDK needs ICU; installing $icu"
    apt_install "$icu"
  else
    echo "build.sh: the .NET SDK needs ICU (libicu); install it (Debian 12: apt-get install libicu72) or set DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1" >&2
    exit 1
  fi
fi

# --- libstdc++ new enough for TorchSharp's native library (GLIBCXX_3.4.32, GCC 13), for the stages that train --
case "$target" in
  Train|Evaluate|Export|SmokePredict|Release|Test) needs_torch=1 ;;
  *) needs_torch="" ;;
esac
libstdcxx=""
for candidate in /usr/lib/x86_64-linux-gnu/libstdc++.so.6 /usr/lib/aarch64-linux-gnu/libstdc++.so.6 /usr/lib64/libstdc++.so.6; do
  [ -e "$candidate" ] && { libstdcxx="$candidate"; break; }
done
if [ -n "$needs_torch" ] && [ -n "$libstdcxx" ] && ! grep -q 'GLIBCXX_3\.4\.32' "$libstdcxx"; then
  if is_root && [ "$(debian_codename)" = "bookworm" ]; then
    echo "build.sh: $libstdcxx lacks GLIBCXX_3.4.32 (TorchSharp needs GCC 13's libstdc++); installing libstdc++6 from Debian 13 (trixie)"
    echo "  (it brings trixie's libc6, libgcc-s1 and base-files with it; the pin keeps everything else on bookworm)"
    # The mirror already configured for bookworm serves trixie too; no host name is written here.
    mirror="$(awk '/^URIs:/ && !/security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
    if [ -z "$mirror" ]; then
      # One-line form: deb [options] URI suite components
      mirror="$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
        /etc/apt/sources.list 2>/dev/null || true)"
    fi
    [ -n "$mirror" ] || { echo "build.sh: found no Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list" >&2; exit 1; }
    printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" \
      > /etc/apt/sources.list.d/pipeline-trixie.sources
    printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' > /etc/apt/preferences.d/pipeline-trixie
    apt-get update -qq
    apt_install -t trixie libstdc++6
    grep -q 'GLIBCXX_3\.4\.32' "$libstdcxx" || { echo "build.sh: libstdc++6 from trixie did not provide GLIBCXX_3.4.32" >&2; exit 1; }
  else
    cat >&2 <<MSG
build.sh: $libstdcxx lacks GLIBCXX_3.4.32; TorchSharp (training) needs libstdc++ from GCC 13 or newer.
  On Debian 12, as root:
    printf 'Types: deb\nURIs: <your Debian mirror, as in /etc/apt/sources.list.d/debian.sources>\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' > /etc/apt/sources.list.d/pipeline-trixie.sources
    printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' > /etc/apt/preferences.d/pipeline-trixie
    apt-get update && apt-get install -t trixie libstdc++6
  Elsewhere: install GCC 13's libstdc++ (or newer) from your distribution.
MSG
    exit 1
  fi
fi

# --- a font for the evaluation plots (labels would be blank without one) ------------------------------------
case "$target" in
  Evaluate|Export|SmokePredict|Release|Test)
    if [ "$(uname -s)" = Linux ] && [ -z "$(find /usr/share/fonts -name '*.ttf' -print -quit 2>/dev/null)" ]; then
      if is_root && command -v apt-get >/dev/null 2>&1; then
        echo "build.sh: installing a font for the evaluation plots (fonts-dejavu-core)"
        apt_install fonts-dejavu-core
      else
        echo "build.sh: no TrueType font under /usr/share/fonts: the plots need one; install it with: sudo apt-get install fonts-dejavu-core" >&2
        exit 1
      fi
    fi ;;
esac

# --- the default dataset's files, and Open MPI for a dataset that trains on several processes --------------
# The dataset's dataset.json, when it names one of datasets/ or a file or folder: what it reads decides what to install.
dataset_json="datasets/$dataset/dataset.json"
[ -f "$dataset_json" ] || dataset_json="$dataset"
[ ! -d "$dataset_json" ] || dataset_json="$dataset_json/dataset.json"
dataset_reads() { [ -f "$dataset_json" ] && grep -q -E -e "$1" "$dataset_json"; }
fashion=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if { [ "$dataset" = "fashion-mnist" ] || [ "$target" = "Test" ] || dataset_reads /usr/share/datasets/fashion-mnist/; } && [ ! -e "$fashion" ]; then
  if is_root && command -v apt-get >/dev/null 2>&1; then
    echo "build.sh: installing Fashion-MNIST (Debian package dataset-fashion-mnist)"
    if ! apt-cache show dataset-fashion-mnist >/dev/null 2>&1; then apt-get update -qq; fi
    apt_install dataset-fashion-mnist
  else
    echo "build.sh: Fashion-MNIST is missing ($fashion); install it with: sudo apt-get install dataset-fashion-mnist" >&2
    exit 1
  fi
fi

# train.distributed with 2 or more processes: the ranks call Debian's Open MPI (libmpi.so.40), and the mpirun launcher
# is its mpirun. Only for the targets that train.
# ensure_open_mpi WHY: Debian's openmpi-bin and libopenmpi-dev, installed as root or asked for; WHY says who needs them.
ensure_open_mpi() {
  if [ ! -x /usr/bin/mpirun ] || ! dpkg -s libopenmpi-dev >/dev/null 2>&1; then
    if is_root && command -v apt-get >/dev/null 2>&1; then
      echo "build.sh: installing openmpi-bin and libopenmpi-dev: $1"
      apt_install --no-install-recommends openmpi-bin libopenmpi-dev
    else
      echo "build.sh: $1; install Open MPI with: sudo apt-get install openmpi-bin libopenmpi-dev" >&2
      exit 1
    fi
  fi
}
if [ -n "$needs_torch" ] && dataset_reads '"processes": *([2-9]|[1-9][0-9]+)'; then
  ensure_open_mpi "$dataset trains on several MPI processes"
fi

# --- nginx, the real server the remote-cache test shares builds through (WebDAV PUT) -----------------------
# Installed, never started here: the test starts it from build/deploy/remote-cache/nginx.conf on a free port and
# stops it by its pid. A policy-rc.d (unless the machine has one) keeps apt from starting the packaged service.
if [ "$target" = "Test" ]; then
  if [ ! -x /usr/sbin/nginx ]; then
    if is_root && command -v apt-get >/dev/null 2>&1; then
      echo "build.sh: installing nginx for the remote-cache test (it is not started as a service)"
      apt_install_without_services nginx
    else
      echo "build.sh: the tests need nginx (the remote-cache test); install it with: sudo apt-get install nginx" >&2
      exit 1
    fi
  fi
  # The test fails, rather than skips, without nginx.
  export PIPELINE_REQUIRE_NGINX=1
  # Tests run side by side on the cores: libtorch's OpenMP threads sleep when they wait instead of spinning, which
  # starves the others (README, "Sharing cores"; a build alone keeps libgomp's default, which is faster alone).
  export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
  # Chromium, the real browser the report is checked in (headless: the page's DOM, a screenshot, its console).
  if ! command -v chromium >/dev/null 2>&1; then
    if is_root && command -v apt-get >/dev/null 2>&1; then
      echo "build.sh: installing chromium for the report test (run headless by the test)"
      apt_install --no-install-recommends chromium
    else
      echo "build.sh: the tests need chromium (the report test); install it with: sudo apt-get install chromium" >&2
      exit 1
    fi
  fi
  export PIPELINE_REQUIRE_CHROMIUM=1
  # Debian's python3-grpcio and python3-grpc-tools: the independent gRPC client of the serving test (it compiles the
  # server's protos itself). /usr/bin/python3 is Debian's, whatever python3 a PATH finds first.
  if ! /usr/bin/python3 -c "import grpc, grpc_tools.protoc" >/dev/null 2>&1; then
    if is_root && command -v apt-get >/dev/null 2>&1; then
      echo "build.sh: installing python3-grpcio and python3-grpc-tools for the gRPC serving test"
      apt_install --no-install-recommends python3-grpcio python3-grpc-tools
    else
      echo "build.sh: the tests need python3-grpcio and python3-grpc-tools (the gRPC test); install them with: sudo apt-get install python3-grpcio python3-grpc-tools" >&2
      exit 1
    fi
  fi
  export PIPELINE_REQUIRE_GRPCIO=1
  # Open MPI (Debian's openmpi-bin and libopenmpi-dev): the MPI tests run jobs of two ranks with mpirun.
  ensure_open_mpi "the MPI tests run jobs of two ranks"
  export PIPELINE_REQUIRE_MPI=1
  # Slurm and munge (Debian's slurm-wlm, munge): the Records job-array test starts a one-node cluster of its own
  # (tests/Pipeline.Cli.Tests/TestSupport/slurm-cluster.sh) and stops it; the packaged services are not started.
  if [ ! -x /usr/sbin/slurmctld ] || [ ! -x /usr/sbin/munged ]; then
    if is_root && command -v apt-get >/dev/null 2>&1; then
      echo "build.sh: installing slurm-wlm and munge for the Slurm test (their services are not started)"
      apt_install_without_services --no-install-recommends slurm-wlm munge
    else
      echo "build.sh: the tests need slurm-wlm and munge (the Slurm test); install them with: sudo apt-get install slurm-wlm munge" >&2
      exit 1
    fi
  fi
  export PIPELINE_REQUIRE_SLURM=1
fi

# --- the Cake runner (pinned in .config/dotnet-tools.json) -------------------------------------------------
packages="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
if [ ! -d "$packages/cake.tool/7.0.0" ]; then
  dotnet tool restore >/dev/null
fi

# --- the engine the Cake script loads; rebuilt only when its sources changed -------------------------------
# The signature lists every source file with its modification time, so an edit, an added or a deleted file
# all show; bin/ and obj/ are left out, so a test run writing there does not count as a change.
bin="$root/build/.bin"
stamp="$bin/.built"
# (Times to the microsecond and SHA-256, so build.ps1 computes the same signature.)
signature="$(find src Directory.Build.props Directory.Packages.props global.json \( -name bin -o -name obj \) -prune \
  -o -type f -printf '%p %T@\n' 2>/dev/null | sed -E 's/(\.[0-9]{6})[0-9]*$/\1/' | LC_ALL=C sort | sha256sum | cut -c1-64)"
cake_args=()
if [ ! -e "$stamp" ] || [ "$(cat "$stamp")" != "$signature" ]; then
  echo "build.sh: building the pipeline engine"
  dotnet build src/Pipeline.Cli/Pipeline.Cli.csproj -c Release -o "$bin" -nologo -v quiet -clp:ErrorsOnly
  printf '%s\n' "$signature" > "$stamp"
  cake_args+=(--invalidate-script-cache)
fi

cake_args+=("--target=$target" "--dataset=$dataset")
[ -n "$force" ] && cake_args+=(--force)
[ -n "$verbosity" ] && cake_args+=("--verbosity=$verbosity")
[ -n "$cache" ] && cake_args+=("--cache=$cache")
[ -n "$shard_index" ] && cake_args+=("--shard-index=$shard_index")
[ -n "$shard_count" ] && cake_args+=("--shard-count=$shard_count")
for set in ${sets[@]+"${sets[@]}"}; do cake_args+=("--set=$set"); done
exec dotnet tool run dotnet-cake build/build.cake "${cake_args[@]}"
