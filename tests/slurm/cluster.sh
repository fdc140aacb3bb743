#!/usr/bin/env bash
# A real one-node SLURM cluster on localhost for the cluster tests (Debian's slurm-wlm and munge).
#   bash tests/slurm/cluster.sh start STATE_DIR   # prints `export SLURM_CONF=...` on success
#   bash tests/slurm/cluster.sh stop STATE_DIR    # stops the daemons it started, by PID
# The node is declared larger than the machine (16 CPUs, 128 GB, four GPUs as a count-only gres,
# SlurmdParameters=config_overrides) so the real profile's requests fit unchanged; it has a `cpu`
# (default) and a `gpu` partition, no accounting database, and runs everything as root.
set -euo pipefail
MODE=${1:?start|stop}
STATE=$(realpath -m "${2:?state dir}")

ETC=/etc/slurm
MARK=$ETC/.ttscale-test-cluster
# munged runs as the munge user, which cannot enter a private (0700) state dir such as pytest's
MUNGE_DIR="/tmp/ttscale-munge-$(printf '%s' "$STATE" | sha1sum | cut -c1-10)"

stop() {
  for d in slurmd slurmctld munged; do
    if [ -f "$STATE/$d.pid" ]; then
      pid=$(cat "$STATE/$d.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$STATE/$d.pid"
    fi
  done
  # the links to our config (see below), only if we made them
  if [ -f "$MARK" ] && [ "$(cat "$MARK")" = "$STATE" ]; then
    rm -f "$ETC/slurm.conf" "$ETC/gres.conf" "$MARK"
  fi
  rm -rf "$MUNGE_DIR"
}

if [ "$MODE" = stop ]; then stop; exit 0; fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
mkdir -p "$STATE"/{spool,state,log} "$MUNGE_DIR"
chmod 755 "$STATE"
cat > "$STATE/slurm.conf" <<CONF
ClusterName=ttscale-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=${SLURMCTLD_PORT:-6817}
SlurmdPort=${SLURMD_PORT:-6818}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
SlurmdTimeout=30
MinJobAge=3600
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=16 RealMemory=128000 Gres=gpu:4 State=UNKNOWN
PartitionName=cpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=localhost MaxTime=INFINITE State=UP
CONF
# four stand-in devices (no GPUs here): jobs that ask for 2 GPUs can be scheduled and read back
printf 'AutoDetect=off\nNodeName=localhost Name=gpu File=/dev/null,/dev/zero,/dev/full,/dev/urandom\n' > "$STATE/gres.conf"
export SLURM_CONF="$STATE/slurm.conf"

stop
# munged as the munge user, with its socket in our state dir
mkdir -p "$MUNGE_DIR"
chown munge:munge "$MUNGE_DIR"
chmod 755 "$MUNGE_DIR"
MUNGE_SOCKET="$MUNGE_DIR/munge.socket.2"
runuser -u munge -- munged --socket="$MUNGE_SOCKET" --pid-file="$MUNGE_DIR/munged.pid" \
  --log-file="$MUNGE_DIR/munged.log" --seed-file="$MUNGE_DIR/munged.seed" --force
for _ in $(seq 50); do [ -f "$MUNGE_DIR/munged.pid" ] && break; sleep 0.1; done
cp "$MUNGE_DIR/munged.pid" "$STATE/munged.pid"
# slurm talks to munge through its default socket path unless told otherwise
echo "AuthInfo=socket=$MUNGE_SOCKET" >> "$STATE/slurm.conf"
# Job steps need the config at the default path: the jobstep executor drops SLURM_* variables
# (SLURM_CONF among them) before it calls srun. Link ours there, never over a real one.
mkdir -p "$ETC"
if [ -e "$ETC/slurm.conf" ] && [ ! -f "$MARK" ]; then
  echo "cluster.sh: $ETC/slurm.conf exists and is not ours; refusing to replace it" >&2
  exit 1
fi
ln -sfn "$STATE/slurm.conf" "$ETC/slurm.conf"
ln -sfn "$STATE/gres.conf" "$ETC/gres.conf"
echo "$STATE" > "$MARK"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 150); do
  if sinfo -h -o "%t" 2>/dev/null | grep -qE "^(idle|mix)"; then
    echo "export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 0.2
done
echo "cluster.sh: the node did not become idle; see $STATE/log" >&2
sinfo >&2 || true
tail -n 20 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 || true
exit 1
