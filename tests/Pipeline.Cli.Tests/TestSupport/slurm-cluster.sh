#!/usr/bin/env bash
# A one-node Slurm cluster for tests, all of its state in one folder, on Debian's slurm-wlm and munge (as root):
#   slurm-cluster.sh start DIR    starts munged, slurmctld and slurmd; prints SLURM_CONF=DIR/slurm.conf once the
#                                 node is idle (about 10 s); run sbatch, squeue, sacct with that variable set
#   slurm-cluster.sh stop DIR     stops them by their pids
# Ports are picked free at start, so two clusters (two test runs) do not meet.
set -euo pipefail
action="$1"
dir="$(realpath -m "$2")"

stop() {
  for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    if [ -s "$pidfile" ]; then
      kill "$(cat "$pidfile")" 2>/dev/null || true
    fi
  done
  # Wait for them to go, so the next start can take the ports and the folder can be removed.
  for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    if [ -s "$pidfile" ]; then
      for _ in $(seq 50); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
    fi
  done
}

# Two free ports, found with both sockets open at once so they differ.
free_ports() {
  python3 -c 'import socket; a = socket.socket(); b = socket.socket(); a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0)); print(a.getsockname()[1], b.getsockname()[1])'
}

if [ "$action" = stop ]; then
  stop
  exit 0
fi

host="$(hostname -s)"
# Whatever fails from here stops what was started, so no daemon outlives a failed start.
trap 'stop' ERR
mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
chown munge:munge "$dir/munge"
chmod 755 "$dir/munge"
runuser -u munge -- /usr/sbin/munged --socket="$dir/munge/munge.socket" --pid-file="$dir/munge/munged.pid" \
  --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" --key-file=/etc/munge/munge.key
read -r ctld_port slurmd_port < <(free_ports)
cat > "$dir/slurm.conf" <<CONF
ClusterName=pipeline-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=$host CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
CONF
export SLURM_CONF="$dir/slurm.conf"
/usr/sbin/slurmctld -f "$SLURM_CONF"
/usr/sbin/slurmd -f "$SLURM_CONF"
for _ in $(seq 100); do
  state="$(sinfo -h -o %T 2>/dev/null || true)"
  if [ "$state" = idle ]; then
    echo "SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 0.2
done
echo "slurm-cluster.sh: the node did not become idle in 20 s (state: ${state:-none}); logs in $dir" >&2
stop
exit 1
