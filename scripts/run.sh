#!/usr/bin/env bash
# Installs lomo-ablate into ./.venv (first time only) and runs the main app; arguments go to it.
#   bash scripts/run.sh                                   # the embedded default: one job, minutes on a laptop
#   bash scripts/run.sh -m method=standard_sft,lomo       # a sweep
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh ${LOMO_INSTALL_FLAGS:-}
export WANDB_MODE="${WANDB_MODE:-offline}" TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m lomo_ablate "$@"
