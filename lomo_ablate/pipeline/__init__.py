"""The pipeline: Hydra app, stages over a content-addressed store, job folders, validation, sweeps.

Plain-Python entry points (no Hydra needed):

* :func:`lomo_ablate.pipeline.app.run_job` — every registered stage for one resolved config;
* :data:`lomo_ablate.pipeline.stages.REGISTRY` — the stages (:mod:`lomo_ablate.pipeline.registry`);
* :class:`lomo_ablate.pipeline.store.Store` — ``<store>/<stage>/<key>/`` with locking;
* :func:`lomo_ablate.pipeline.validate.validate_config` — every check made before anything runs;
* :func:`lomo_ablate.pipeline.stages.plan` — the stage keys of a config (what is cached).
"""
from lomo_ablate.pipeline import naming as _naming  # noqa: F401  (registers the ${lomo.job_name:} resolver)
