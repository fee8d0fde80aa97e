#!/usr/bin/env bash
# Starts a one-node Slurm cluster on loopback (munged, MariaDB, slurmdbd, slurmctld, slurmd) with all of its
# state under the repository's ignored .slurm/ folder, and writes .slurm/env.sh (exports SLURM_CONF).
# Idempotent: daemons already running (by pidfile) are left alone. Needs root (slurmd launches jobs) and
# the Debian packages from `scripts/install.sh --slurm`.
#   bash scripts/slurm/start.sh && source .slurm/env.sh && sinfo
# Environment knobs: LOMO_SLURM_CPUS (CPUs the node advertises, default 8: array tasks of the tests
# mostly sleep, so the node is oversubscribed on purpose), LOMO_SLURM_PORT (slurmctld port, default 6817;
# slurmd uses +1, slurmdbd +2), LOMO_SLURM_DB_PORT (MariaDB, default 3316), LOMO_SLURM_GPUS (fake GPU
# character devices for --gres=gpu:N, default 2; 0 disables).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
S="$REPO/.slurm"
# shellcheck source=scripts/slurm/common.sh
source "$REPO/scripts/slurm/common.sh"

if [ "$(id -u)" != 0 ]; then
  echo "[slurm] start.sh needs root (slurmd must launch jobs); run as root or use the 'local' cluster" >&2
  exit 1
fi
for bin in munged slurmctld slurmd slurmdbd mariadbd mariadb-install-db mariadb sbatch sacctmgr; do
  command -v "$bin" >/dev/null || { echo "[slurm] $bin not found: run scripts/install.sh --slurm" >&2; exit 1; }
done

if all_running; then
  echo "[slurm] already running (SLURM_CONF=$S/slurm.conf)"
  write_env
  exit 0
fi

CPUS=${LOMO_SLURM_CPUS:-8}
PORT=${LOMO_SLURM_PORT:-6817}
DB_PORT=${LOMO_SLURM_DB_PORT:-3316}
NGPU=${LOMO_SLURM_GPUS:-2}
MEM_MB=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)
mkdir -p "$S"/{munge,log,run,spool/ctld,spool/d,mysql,dev}
chmod 700 "$S/munge"

# --- munge: own key and socket, so nothing clashes with a system munged ------------------------------
if ! running munged; then
  if [ ! -s "$S/munge/munge.key" ]; then
    dd if=/dev/urandom of="$S/munge/munge.key" bs=1 count=1024 status=none
  fi
  chmod 400 "$S/munge/munge.key"
  rm -f "$S/munge/munge.socket" "$S/munge/munge.socket.lock"
  munged --force --socket="$S/munge/munge.socket" --key-file="$S/munge/munge.key" \
    --pid-file="$S/run/munged.pid" --log-file="$S/log/munged.log" --seed-file="$S/munge/munge.seed"
  wait_for "munged socket" 10 test -S "$S/munge/munge.socket"
fi

# --- fake GPUs: gres.conf File= must name character devices (FACTS.md) --------------------------------
GRES_LINE=""; GRESTYPES=""
if [ "$NGPU" -gt 0 ]; then
  ok=1
  for ((i = 0; i < NGPU; i++)); do
    [ -c "$S/dev/nvidia$i" ] || mknod "$S/dev/nvidia$i" c 195 "$i" 2>/dev/null || { ok=0; break; }
  done
  if [ $ok = 1 ]; then
    GRES_LINE="Gres=gpu:$NGPU"; GRESTYPES="GresTypes=gpu"
    echo "NodeName=localhost Name=gpu File=$S/dev/nvidia[0-$((NGPU - 1))]" > "$S/gres.conf"
  else
    echo "[slurm] mknod not permitted: no fake GPUs (--gres=gpu jobs will be rejected)" >&2
    : > "$S/gres.conf"
  fi
else
  : > "$S/gres.conf"
fi

# --- configuration (rewritten only while nothing runs that has read it) --------------------------------
: > "$S/plugstack.conf"
cat > "$S/slurm.conf" <<CONF
# written by scripts/slurm/start.sh — a one-node loopback cluster for lomo-ablate's tests
ClusterName=lomo
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$S/munge/munge.socket,cred_expire=10
StateSaveLocation=$S/spool/ctld
SlurmdSpoolDir=$S/spool/d
SlurmctldPidFile=$S/run/slurmctld.pid
SlurmdPidFile=$S/run/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
PlugStackConfig=$S/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
SlurmdParameters=config_overrides
CommunicationParameters=NoInAddrAny
SchedulerParameters=sched_interval=2
MailProg=/bin/true
ReturnToService=2
MaxArraySize=10001
MaxJobCount=100000
KillWait=5
MinJobAge=300
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$((PORT + 2))
AccountingStoragePass=$S/munge/munge.socket
JobCompType=jobcomp/none
$GRESTYPES
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB $GRES_LINE State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
cat > "$S/slurmdbd.conf" <<CONF
# written by scripts/slurm/start.sh
AuthType=auth/munge
AuthInfo=socket=$S/munge/munge.socket
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$((PORT + 2))
SlurmUser=root
PidFile=$S/run/slurmdbd.pid
LogFile=$S/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
CONF
chmod 600 "$S/slurmdbd.conf"
export SLURM_CONF="$S/slurm.conf"

# --- MariaDB for slurmdbd (sacct: without it a scancel'ed job makes submitit's result() hang) ----------
if ! running mariadbd; then
  if [ ! -d "$S/mysql/data/mysql" ]; then
    mariadb-install-db --no-defaults --datadir="$S/mysql/data" --user=root \
      --auth-root-authentication-method=socket --skip-test-db >"$S/log/mariadb-install.log" 2>&1
  fi
  rm -f "$S/mysql/mysqld.sock"
  (mariadbd --no-defaults --datadir="$S/mysql/data" --socket="$S/mysql/mysqld.sock" \
     --pid-file="$S/run/mariadbd.pid" --port="$DB_PORT" --bind-address=127.0.0.1 --user=root \
     --log-error="$S/log/mariadb.log" --innodb-buffer-pool-size=64M >/dev/null 2>&1 &)
  wait_for "MariaDB" 30 mariadb --no-defaults --socket="$S/mysql/mysqld.sock" -uroot -e "SELECT 1"
  mariadb --no-defaults --socket="$S/mysql/mysqld.sock" -uroot -e "
    CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
    FLUSH PRIVILEGES;"
fi

if ! running slurmdbd; then
  slurmdbd
  wait_for "slurmdbd" 30 sacctmgr -n list cluster
fi
sacctmgr -i -Q add cluster lomo >/dev/null 2>&1 || true

if ! running slurmctld; then
  slurmctld -f "$S/slurm.conf"
  wait_for "slurmctld" 30 scontrol ping
fi
if ! running slurmd; then
  slurmd -f "$S/slurm.conf" -N localhost
fi
wait_for "node localhost" 30 node_ready
write_env
echo "[slurm] running: $(sinfo -h -o '%P %D %T %c CPUs %m MB %G')  (source $S/env.sh)"
