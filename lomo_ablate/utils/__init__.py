"""Small helpers shared by every stage: stable hashing, atomic writes, JSONL."""
from lomo_ablate.utils.fs import (atomic_dir, atomic_write_json, atomic_write_text, dumps_json, finite_json, locked,
                                  read_jsonl, write_jsonl)
from lomo_ablate.utils.hashing import stable_hash

__all__ = ["atomic_dir", "atomic_write_json", "atomic_write_text", "dumps_json", "finite_json", "locked", "read_jsonl",
           "write_jsonl", "stable_hash"]
