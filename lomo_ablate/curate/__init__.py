"""LoMo curation: turn text-only SFT prompts into text–image–text samples (and mix them with a multimodal pool).

Library use::

    from lomo_ablate.curate import CurateConfig, curate
    summary = curate("text.jsonl", "out/", CurateConfig.from_dict({"localize": {"position": "middle"}}),
                     multimodal_input="mm.jsonl", seed=0, workers=2)

Command line (Hydra): ``python -m lomo_ablate.curate input=IN output=OUT position=middle rewrite_ratio=0.5``.
See docs/curate.md.
"""
from lomo_ablate.curate.config import ConfigError, CurateConfig, LocalizeConfig, MixConfig
from lomo_ablate.curate.localize import POSITIONS, Block, count_sentences, locate_spans, split_blocks
from lomo_ablate.curate.run import CurateSummary, curate

__all__ = ["POSITIONS", "Block", "ConfigError", "CurateConfig", "CurateSummary", "LocalizeConfig", "MixConfig",
           "count_sentences", "curate", "locate_spans", "split_blocks"]
