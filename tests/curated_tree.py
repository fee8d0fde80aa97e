"""A curated folder as bytes, for byte-for-byte comparisons between curations (a unique module name:
importable from every test folder)."""
from __future__ import annotations

import json
from pathlib import Path

from lomo_ablate.contracts import FILES_MANIFEST, MANIFEST
from lomo_ablate.pipeline.store import KEY_FILE


def curated_tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` as bytes: the manifest without what varies between runs (``wall_seconds``, TeX
    time ``tex``), and without the store's own files (``_key.json``, ``_files.json``: a store entry has them,
    a curation into a plain folder does not)."""
    out = {}
    for p in sorted(Path(root).rglob("*")):
        if p.is_file() and p.name not in (KEY_FILE, FILES_MANIFEST):
            data = p.read_bytes()
            if p.name == MANIFEST:
                m = json.loads(data)
                m.pop("wall_seconds")
                m.pop("tex", None)
                data = json.dumps(m, sort_keys=True).encode()
            out[str(p.relative_to(root))] = data
    return out
