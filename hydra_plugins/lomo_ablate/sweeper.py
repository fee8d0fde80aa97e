"""``hydra/sweeper=lomo`` (conf/config.yaml selects it); the grid syntax is in lomo_ablate/pipeline/grid.py."""
import dataclasses
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper


@dataclasses.dataclass
class LomoSweeperConf:
    """``hydra.sweeper`` of the lomo sweeper."""

    _target_: str = "hydra_plugins.lomo_ablate.sweeper.LomoSweeper"
    params: Optional[Dict[str, str]] = None          # key: "a,b,c" -> product, like the basic sweeper
    paired: Dict[str, Any] = dataclasses.field(default_factory=dict)  # name: {key: [..], key2: [..]} zipped
    baselines: List[Any] = dataclasses.field(default_factory=list)    # extra jobs: [[k=v, ...], ...]
    max_parallel: Optional[int] = None               # jobs per launcher batch (local concurrency limit)
    max_batch_size: Optional[int] = None             # the basic sweeper's name for the same thing


ConfigStore.instance().store(group="hydra/sweeper", name="lomo", node=LomoSweeperConf, provider="lomo_ablate")


class LomoSweeper(Sweeper):
    """Thin plugin shell (Hydra only instantiates plugins defined under hydra_plugins/) around
    :class:`lomo_ablate.pipeline.sweeper.LomoSweeperImpl`."""

    def __init__(self, **kwargs: Any) -> None:
        from lomo_ablate.pipeline.sweeper import LomoSweeperImpl

        super().__init__()
        self.impl = LomoSweeperImpl(**kwargs)

    def setup(self, *, hydra_context: Any, task_function: Any, config: Any) -> None:
        self.impl.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: List[str]) -> Any:
        return self.impl.sweep(arguments)
