"""Search path plugin: the repository's ``sweeps/`` folder is the ``sweep`` config group.

``sweeps/position.yaml`` is selected with ``sweep=position`` (``python -m lomo_ablate -m sweep=position``).
The folder is called ``sweeps/`` (one file per paper experiment) while the group is called ``sweep``
(one choice per run), so a plain ``file://`` search path entry would not do: this package registers a
tiny config source (scheme ``lomo-sweeps://``) that serves the files of a folder as the group ``sweep``,
and a search path plugin that appends it. ``LOMO_SWEEPS_DIR`` points it at another folder.
"""
# no `from __future__ import annotations`: Hydra execs plugin modules before registering them in
# sys.modules, and dataclasses with string annotations look their module up there.
import os
from pathlib import Path
from typing import List, Optional

from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.object_type import ObjectType
from hydra.plugins.config_source import ConfigLoadError, ConfigResult, ConfigSource
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import OmegaConf

GROUP = "sweep"


def sweeps_dir() -> Path:
    """The folder holding the sweep presets: ``$LOMO_SWEEPS_DIR`` or ``<repo>/sweeps``."""
    env = os.environ.get("LOMO_SWEEPS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "sweeps"


class SweepsConfigSource(ConfigSource):
    """Serves ``<folder>/<name>.yaml`` as the config ``sweep/<name>``; nothing else."""

    @staticmethod
    def scheme() -> str:
        return "lomo-sweeps"

    def _local(self, config_path: str) -> Optional[str]:
        """``sweep/x`` -> ``x`` (inside the folder); ``sweep`` -> ``""``; anything else -> None."""
        config_path = config_path.strip("/")
        if config_path == GROUP:
            return ""
        if config_path.startswith(GROUP + "/"):
            return config_path[len(GROUP) + 1:]
        return None

    def load_config(self, config_path: str) -> ConfigResult:
        local = self._local(self._normalize_file_name(config_path))
        full = os.path.join(self.path, local) if local else None
        if not full or not os.path.isfile(full):
            raise ConfigLoadError(f"Config not found : {config_path} (sweep presets live in {self.path})")
        with open(full, encoding="utf-8") as f:
            header = ConfigSource._get_header_dict(f.read(512))
            f.seek(0)
            cfg = OmegaConf.load(f)
        return ConfigResult(config=cfg, path=f"{self.scheme()}://{self.path}", provider=self.provider,
                            header=header)

    def available(self) -> bool:
        return os.path.isdir(self.path)

    def is_group(self, config_path: str) -> bool:
        if config_path.strip("/") == "":
            return self.available()
        local = self._local(config_path)
        return local == "" and self.available()

    def is_config(self, config_path: str) -> bool:
        local = self._local(self._normalize_file_name(config_path))
        return bool(local) and os.path.isfile(os.path.join(self.path, local))

    def list(self, config_path: str, results_filter: Optional[ObjectType]) -> List[str]:
        files: List[str] = []
        if config_path.strip("/") == "":
            if self.available() and results_filter in (None, ObjectType.GROUP):
                files.append(GROUP)
            return files
        if self._local(config_path) != "" or not self.available():
            return files
        for name in os.listdir(self.path):
            if name.endswith(".yaml") and os.path.isfile(os.path.join(self.path, name)):
                self._list_add_result(files=files, file_path=f"{GROUP}/{name}", file_name=name,
                                      results_filter=results_filter)
        return sorted(set(files))


class LomoAblateSearchPathPlugin(SearchPathPlugin):
    """Appends the sweep presets folder to every Hydra app's search path (only lomo_ablate's app has a
    ``sweep`` group, so other apps are unaffected)."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        search_path.append(provider="lomo-ablate-sweeps", path=f"lomo-sweeps://{sweeps_dir()}")
