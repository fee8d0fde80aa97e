"""Hydra launcher ``hydra/launcher=lomo_slurm``: hydra-submitit-launcher's Slurm launcher plus submit-and-exit,
resumable sweeps, a code snapshot and failures reported as they happen (see docs/slurm.md)."""
