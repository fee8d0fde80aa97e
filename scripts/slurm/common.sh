# Helpers shared by start.sh, stop.sh and status (sourced; expects $S = the repo's .slurm folder).
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)   # start order; stop goes in reverse

# pid of a daemon from its pidfile, printed only when that pid is alive and really is the daemon
daemon_pid() {
  local name=$1 f="$S/run/$1.pid" pid
  [ -s "$f" ] || return 1
  pid=$(tr -dc "0-9" 2>/dev/null < "$f")
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] || return 1
  # a zombie has exited: treat it as gone
  [ "$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null)" != Z ] || return 1
  case "$(cat "/proc/$pid/comm")" in "$name"*) echo "$pid" ;; *) return 1 ;; esac
}
running() { daemon_pid "$1" >/dev/null; }
all_running() { local d; for d in "${DAEMONS[@]}"; do running "$d" || return 1; done; SLURM_CONF="$S/slurm.conf" node_ready; }

node_ready() {
  local st
  st=$(SLURM_CONF="$S/slurm.conf" sinfo -h -N -n localhost -o '%T' 2>/dev/null | head -1) || return 1
  case "$st" in
    idle*|mixed*|allocated*|completing*) return 0 ;;
    down*|drain*|drained*|fail*)
      SLURM_CONF="$S/slurm.conf" scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true
      return 1 ;;
    *) return 1 ;;
  esac
}

# wait_for WHAT SECONDS CMD...: retries CMD every 0.5 s; fails with the daemon logs' tails
wait_for() {
  local what=$1 secs=$2; shift 2
  local i
  for ((i = 0; i < secs * 2; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "[slurm] $what did not come up within ${secs}s; logs in $S/log:" >&2
  tail -n 5 "$S"/log/*.log >&2 || true
  return 1
}

write_env() {
  cat > "$S/env.sh" <<ENV
# written by scripts/slurm/start.sh: source it to use the loopback cluster
export SLURM_CONF="$S/slurm.conf"
ENV
}
