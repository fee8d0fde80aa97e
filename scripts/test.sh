#!/usr/bin/env bash
# Installs what the tests need (Python packages, TeX Live, a loopback Slurm) and runs the test suite.
# Extra arguments go to pytest:  bash scripts/test.sh -k curate
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then
  bash scripts/install.sh --all
else
  echo "[test] not root: TeX Live and Slurm are not installed; their tests skip unless already present"
  bash scripts/install.sh
fi
export LOMO_REPO="$PWD"
export WANDB_MODE=offline WANDB_SILENT=true HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export TORCH_EXTENSIONS_DIR="${TORCH_EXTENSIONS_DIR:-$HOME/.cache/lomo-ablate/torch_extensions}"
slurm_started=0
if [ -x scripts/slurm/start.sh ] && [ "$(id -u)" = 0 ] && command -v slurmctld >/dev/null; then
  bash scripts/slurm/start.sh
  slurm_started=1
  # shellcheck disable=SC1091
  source .slurm/env.sh
fi
cleanup() { if [ $slurm_started = 1 ]; then bash scripts/slurm/stop.sh || true; fi; }
trap cleanup EXIT
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
# pytest exit 5 = no tests collected: that is a failure of the suite, not a pass
exit $rc
