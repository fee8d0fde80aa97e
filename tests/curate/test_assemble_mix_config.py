"""Assembly slot safety, mixing arithmetic and config validation (pure functions, no files)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lomo_ablate.contracts import IMAGE_SLOT
from lomo_ablate.curate import ConfigError, CurateConfig, MixConfig, locate_spans
from lomo_ablate.curate.assemble import assemble_content, count_slots
from lomo_ablate.curate.mix import copies, plan_mix, should_rewrite


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("ab <image>.$ ")), max_size=80),
       position=st.sampled_from(["prefix", "middle", "suffix", "multi_span", "full"]))
def test_slots_equal_images_even_with_literal_placeholders(text: str, position: str):
    spans = locate_spans(text, position, min_sentences=0)
    content, _ = assemble_content(text, spans)
    assert count_slots([{"content": content}]) == len(spans)


def test_literal_image_tag_is_escaped_and_counted():
    text = "Describe <image> tags. They matter. Really they do. Answer <image> now."
    s, e = text.index("They"), text.index("matter.") + len("matter.")
    content, escaped = assemble_content(text, [(s, e)])
    assert content.count(IMAGE_SLOT) == 1
    assert content == "Describe < image> tags. <image> Really they do. Answer < image> now."
    assert escaped == 2


@settings(max_examples=100, deadline=None)
@given(pool=st.integers(1, 300), selected=st.integers(0, 900))
def test_systematic_selection_takes_exactly_n(pool: int, selected: int):
    counts = [copies(i, pool, selected) for i in range(pool)]
    assert sum(counts) == selected
    assert max(counts) - min(counts) <= 1  # spread evenly; upsampling repeats every record alike


def test_rewrite_decision_is_a_function_of_seed_and_record_with_the_right_rate():
    ratio = 0.3
    picks = [should_rewrite(7, "text", line, 0, ratio) for line in range(1, 5001)]
    assert abs(sum(picks) / len(picks) - ratio) < 0.03
    again = [should_rewrite(7, "text", line, 0, ratio) for line in reversed(range(1, 5001))]
    assert picks == list(reversed(again))  # order of evaluation does not matter
    other = [should_rewrite(8, "text", line, 0, ratio) for line in range(1, 5001)]
    assert picks != other  # the seed matters
    assert all(should_rewrite(0, "text", i, 0, 1.0) for i in range(100))
    assert not any(should_rewrite(0, "text", i, 0, 0.0) for i in range(100))


def test_original_mix_keeps_pool_proportions():
    plan = plan_mix(600, 300, MixConfig(rewrite_ratio=0.5, scale=90))
    assert (plan.text_selected, plan.multimodal_selected) == (60, 30)
    assert plan.expected_image_fraction == pytest.approx((30 + 0.5 * 60) / 90)


@pytest.mark.parametrize("ratio", [0.0, 0.2, 0.4])
def test_matched_mix_targets_one_to_one(ratio: float):
    plan = plan_mix(1000, 200, MixConfig(rewrite_ratio=ratio, scale=400, image_text_ratio="1:1"))
    assert plan.text_selected + plan.multimodal_selected == 400
    assert plan.expected_image_fraction == pytest.approx(0.5, abs=0.005)
    assert plan.warning is None


def test_matched_mix_that_cannot_be_met_says_so():
    # the original mix rewrites 0.9 * 300 = 270 of 400 instances: more than the 200 image-bearing of 1:1
    plan = plan_mix(300, 100, MixConfig(rewrite_ratio=0.9, image_text_ratio="1:1"))
    assert plan.multimodal_selected == 0 and "exceeds" in plan.warning


def test_matched_control_keeps_the_rewritten_count_at_the_papers_rewrite_ratio():
    """The paper's matched control at r = 0.5 (Table 5): the original 2M+2M mix rewrites 1M text instances;
    the control keeps those 1M and takes multimodal instances so image-bearing = text-only = 2M (the old
    formula m = S(f - r)/(1 - r) gave zero multimodal instances here)."""
    S = 4000
    original = plan_mix(2000, 2000, MixConfig(rewrite_ratio=0.5, scale=S))
    matched = plan_mix(2000, 2000, MixConfig(rewrite_ratio=0.5, scale=S, image_text_ratio="1:1"))
    kept = original.rewrite_ratio * original.text_selected
    assert matched.rewritten_expected == pytest.approx(kept)
    assert matched.multimodal_selected == 1000 and matched.text_selected == 3000
    assert matched.text_rewrite_ratio == pytest.approx(1 / 3)
    assert matched.expected_image_fraction == pytest.approx(0.5)
    # a multimodal pool where only 80 % of records bear an image needs more multimodal instances
    partial = plan_mix(2000, 2000, MixConfig(rewrite_ratio=0.5, scale=S, image_text_ratio="1:1"), 0.8)
    assert partial.multimodal_selected == 1250
    assert partial.expected_image_fraction == pytest.approx(0.5)


def test_config_errors_name_the_key_and_allowed_values():
    with pytest.raises(ConfigError, match=r"rewrite_ratio=1.5 is outside \[0, 1\]"):
        CurateConfig.from_dict({"mix": {"rewrite_ratio": 1.5}})
    with pytest.raises(ConfigError, match="position='center'.*prefix, middle, suffix, multi_span, full"):
        CurateConfig.from_dict({"localize": {"position": "center"}})
    with pytest.raises(ConfigError, match=r"unknown key\(s\) 'curate.shardsize' in curate; allowed: .*shard_size"):
        CurateConfig.from_dict({"shardsize": 3})
    with pytest.raises(ConfigError, match="'curate.localize.positon' in curate.localize"):
        CurateConfig.from_dict({"localize": {"positon": "middle"}})
    with pytest.raises(ConfigError, match="image_text_ratio='one to one'"):
        CurateConfig.from_dict({"mix": {"image_text_ratio": "one to one"}})
    with pytest.raises(ValueError, match="unknown key"):  # the render colleague's config rejects typos too
        CurateConfig.from_dict({"render": {"fnot": "x"}})


def test_a_wrong_type_is_a_config_error_naming_the_key_and_the_type():
    """One builder (lomo_ablate.utils.config.config_from_dict), one ConfigError for the whole package."""
    from lomo_ablate.utils.config import ConfigError as PackageConfigError

    assert ConfigError is PackageConfigError
    with pytest.raises(ConfigError, match=r"curate\.mix\.rewrite_ratio: expected a float, got 'abc' \(str\)"):
        CurateConfig.from_dict({"mix": {"rewrite_ratio": "abc"}})
    with pytest.raises(ConfigError, match=r"curate\.localize\.min_sentences: expected an integer, got 2\.5"):
        CurateConfig.from_dict({"localize": {"min_sentences": 2.5}})
    with pytest.raises(ConfigError, match=r"curate\.render\.font_size: expected an integer"):
        CurateConfig.from_dict({"render": {"font_size": "big"}})
    with pytest.raises(ConfigError, match=r"curate\.workers must be >= 1, got 0"):
        CurateConfig.from_dict({"workers": 0})
    with pytest.raises(ConfigError, match=r"curate\.mix\.scale must be >= 1"):
        CurateConfig(mix={"scale": 0})  # plain mappings of a library call are built (and checked) too


def test_an_omegaconf_node_builds_like_a_plain_mapping():
    """A Hydra node passed as it is (DictConfig with ListConfig values), as RenderConfig/DistortConfig
    accepted before the one builder."""
    from omegaconf import OmegaConf

    cfg = CurateConfig.from_dict(OmegaConf.create({"render": {"fallback_fonts": ["DejaVu Sans"]},
                                                   "distort": {"box_kernel": [2, 3]}}))
    assert cfg.render.fallback_fonts == ["DejaVu Sans"] and cfg.distort.box_kernel == (2, 3)
