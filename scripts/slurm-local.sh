#!/usr/bin/env bash
# A private single-node Slurm cluster on this machine, for `soup run --executor slurm` without a real
# cluster (the test suite's Slurm tests use it). As root; Debian's slurm-wlm and munge, installed if missing.
#
#   scripts/slurm-local.sh start  [DIR]   start munged, slurmctld and slurmd in DIR (default /tmp/soup-slurm),
#                                          idempotently; waits until the node is idle; prints SLURM_CONF=…
#   scripts/slurm-local.sh stop   [DIR]   stops the daemons it started there, by their PIDs
#   scripts/slurm-local.sh status [DIR]   says whether they run and what sinfo sees
#
# Every Slurm command finds this cluster through the environment variable SLURM_CONF=DIR/slurm.conf
# (start prints the line to export). Nothing is written outside DIR. The recipe and its measured
# latencies: docs/cluster.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/common.sh
source "$root/scripts/common.sh"

action="${1:-}"
dir="${2:-${SOUP_SLURM_DIR:-/tmp/soup-slurm}}"
case "$action" in start|stop|status) ;; *) echo "usage: scripts/slurm-local.sh start|stop|status [DIR]" >&2; exit 2 ;; esac
if [ "$(id -u)" -ne 0 ]; then
  echo "error: slurm-local.sh starts slurmd, which must run as root here; run it as root" >&2
  exit 1
fi

# The PID in DIR/run/NAME.pid if that process is alive and is NAME.
alive() {
  local pidfile="$dir/run/$1.pid" pid
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] && echo "$pid"
}

stop() {
  local name pid
  for name in slurmd slurmctld munged; do
    if pid="$(alive "$name")"; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
      if [ -e "/proc/$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$dir/run/$name.pid"
  done
}

node_state() { SLURM_CONF="$dir/slurm.conf" sinfo -h -o %T 2>/dev/null | head -1; }

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    [ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return; }
  done
}

case "$action" in
status)
  for name in munged slurmctld slurmd; do
    if pid="$(alive "$name")"; then echo "$name: running (pid $pid)"; else echo "$name: not running"; fi
  done
  [ -f "$dir/slurm.conf" ] && echo "node: $(node_state || true)" && echo "SLURM_CONF=$dir/slurm.conf"
  exit 0
  ;;
stop)
  stop
  echo "stopped the Slurm daemons of $dir" >&2
  exit 0
  ;;
esac

# start
if alive munged >/dev/null && alive slurmctld >/dev/null && alive slurmd >/dev/null && [ "$(node_state)" = idle ]; then
  echo "SLURM_CONF=$dir/slurm.conf"
  exit 0
fi
ensure_debian_packages slurm-wlm munge
stop   # whatever half of a previous start is left
mkdir -p "$dir"
chmod 755 "$dir"
cd "$dir"   # daemons in the foreground keep their working directory
mkdir -p munge state spool run log
chmod 755 munge
[ -f munge/munge.key ] || mungekey --create --keyfile="$dir/munge/munge.key" --bits=1024
chmod 600 munge/munge.key

setsid munged -F --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
  --pid-file="$dir/munge/munged.pid" --seed-file="$dir/munge/munged.seed" >"$dir/log/munged.out" 2>&1 </dev/null &
echo $! >"$dir/run/munged.pid"
for _ in $(seq 1 100); do [ -S "$dir/munge/munge.socket" ] && break; sleep 0.05; done
if [ ! -S "$dir/munge/munge.socket" ]; then
  echo "error: munged did not start: $(tail -1 "$dir/log/munged.out" 2>/dev/null)" >&2
  stop
  exit 1
fi

host="$(hostname -s)"
# The node as slurmd sees it (CPUs, sockets, memory), under this host's name.
node="$(slurmd -C | head -1 | sed -E "s/^NodeName=[^ ]+/NodeName=$host/")"
cat >"$dir/slurm.conf" <<EOF
ClusterName=soup-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire: how long a requeued job waits before it runs again (default 120 s).
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.daemon.pid
SlurmdPidFile=$dir/run/slurmd.daemon.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# The defaults (3 s, 60 s, 30 s) make a dependent job wait up to a minute: too slow for tests.
SchedulerParameters=batch_sched_delay=0,sched_interval=2,bf_interval=1
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.log
AccountingStorageType=accounting_storage/none
MailProg=/bin/true
ReturnToService=2
MinJobAge=300
KillWait=5
InactiveLimit=0
$node NodeAddr=127.0.0.1 State=UNKNOWN
# A partition time limit that sbatch enforces at submission: the tests submit past it on purpose.
EnforcePartLimits=ALL
PartitionName=debug Nodes=ALL Default=YES MaxTime=1-00:00:00 State=UP
EOF

export SLURM_CONF="$dir/slurm.conf"
setsid slurmctld -D >"$dir/log/slurmctld.out" 2>&1 </dev/null &
echo $! >"$dir/run/slurmctld.pid"
setsid slurmd -D -N "$host" >"$dir/log/slurmd.out" 2>&1 </dev/null &
echo $! >"$dir/run/slurmd.pid"
for _ in $(seq 1 300); do
  [ "$(node_state)" = idle ] && break
  sleep 0.1
done
if [ "$(node_state)" != idle ]; then
  reason="$(sinfo -h -o '%T %E' 2>/dev/null | head -1 || true)"
  echo "error: the Slurm node is not idle after 30 s (${reason:-no answer from slurmctld}); logs in $dir/log" >&2
  stop
  exit 1
fi
echo "SLURM_CONF=$dir/slurm.conf"
