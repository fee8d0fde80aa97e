"""Hydra plugins of lomo-ablate (one package; Hydra finds every module under ``hydra_plugins/``):

* ``searchpath``: the repository's ``sweeps/`` folder served as the ``sweep`` config group
  (``python -m lomo_ablate -m sweep=position``);
* ``sweeper``: ``hydra/sweeper=lomo`` (zip/paired axes, baselines, every job validated before launching,
  dry runs), a shell around ``lomo_ablate.pipeline.sweeper.LomoSweeperImpl``;
* ``launcher``: ``hydra/launcher=lomo_slurm`` (selected by ``cluster=slurm*``): hydra-submitit-launcher's
  Slurm launcher plus one array per sweep, submit and exit, skip done jobs, a code snapshot (docs/slurm.md).

Plugin modules do not use ``from __future__ import annotations``: Hydra execs them before registering them
in ``sys.modules``, and dataclasses with string annotations look their module up there.
"""
from lomo_ablate.pipeline import naming as _naming  # noqa: F401  (registers ${lomo.job_name:}, ${lomo.not_in_job:})
