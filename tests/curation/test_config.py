"""conf/curation/paper.yaml builds the paper's chain, in order, overridable by op name."""

from __future__ import annotations

from pathlib import Path

from hydra.utils import get_class
from omegaconf import OmegaConf

from lingshu.curation.dedup import MinHashDedup, PhashDedup
from lingshu.data.sources.base import Source
from lingshu.tasks.curate import build_ops

from curation_helpers import make_cfg


def test_paper_chain_in_order_and_overridable_by_name(tmp_path, tokenizer_dir):
    cfg = make_cfg(tmp_path, tokenizer_dir)
    ops = build_ops(cfg.curation.ops)
    assert [op.name for op in ops] == ["decode", "min_size", "phash_caption", "phash_instruction", "caption_tokens",
                                       "minhash_text", "decontaminate"]
    assert ops[1].min_side == 64 and ops[2].threshold == 0 and ops[2].kinds == {"caption"}
    assert ops[3].scope == "per_source" and ops[3].sources == {"pubmedvision", "llava_med"}
    assert ops[4].min_tokens == 10 and ops[4].max_tokens == 1024 and ops[4].kinds == {"caption"}
    assert isinstance(ops[5], MinHashDedup) and (ops[5].num_perm, ops[5].threshold, ops[5].ngram) == (256, 0.8, 5)
    OmegaConf.update(cfg, "curation.ops.min_size.min_side", 32)
    cfg.curation.ops.decontaminate = None  # switched off
    OmegaConf.update(cfg, "curation.ops.exact", {"_target_": "lingshu.curation.dedup.ExactDedup"}, force_add=True)
    ops = build_ops(cfg.curation.ops)
    assert ops[1].min_side == 32 and [op.name for op in ops][-2:] == ["minhash_text", "exact"]
    assert build_ops([{"_target_": "lingshu.curation.dedup.PhashDedup", "name": "p"}])[0].name == "p"
    assert isinstance(build_ops(OmegaConf.create([{"_target_": "lingshu.curation.dedup.PhashDedup"}]))[0], PhashDedup)


def test_every_source_config_names_its_package_and_target():
    conf = Path(__file__).resolve().parents[2] / "conf" / "source"
    for f in sorted(conf.glob("*.yaml")):
        first = f.read_text().splitlines()[0]
        assert first == f"# @package source.{f.stem}", f
        node = OmegaConf.load(f)
        assert issubclass(get_class(node._target_), Source) and "kind" in node, f
        assert f.stem == "demo" or "path" in node, f
