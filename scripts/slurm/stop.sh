#!/usr/bin/env bash
# Stops the loopback cluster started by start.sh, daemon by daemon, by pidfile (never by name).
# Idempotent: nothing running is fine. State (.slurm/) is kept; `rm -rf .slurm` after this resets it.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
S="$REPO/.slurm"
# shellcheck source=scripts/slurm/common.sh
source "$REPO/scripts/slurm/common.sh"
[ -d "$S" ] || { echo "[slurm] nothing to stop (no $S)"; exit 0; }
stopped=()
for ((k = ${#DAEMONS[@]} - 1; k >= 0; k--)); do
  d=${DAEMONS[$k]}
  pid=$(daemon_pid "$d") || { rm -f "$S/run/$d.pid"; continue; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 40; i++)); do running "$d" || break; sleep 0.25; done
  if running "$d"; then echo "[slurm] $d (pid $pid) ignored TERM for 10 s: KILL" >&2; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$S/run/$d.pid"
  stopped+=("$d")
done
if [ ${#stopped[@]} -gt 0 ]; then echo "[slurm] stopped: ${stopped[*]}"; else echo "[slurm] nothing was running"; fi
