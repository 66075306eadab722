"""Shared fixtures: a small byte-level BPE tokenizer (the backbone's stand-in) and configs."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    from lingshu.data import demo

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    corpus = [demo.caption_text(demo.labels_for(i, 0, "train")) for i in range(64)] + [q for q, _, _ in demo.TEXT_FACTS]
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=400, show_progress=False,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    d = tmp_path_factory.mktemp("tokenizer")
    tok.save(str(d / "tokenizer.json"))
    return d


def make_cfg(tmp_path: Path, tokenizer_dir: Path, sources: dict | None = None, **curation) -> OmegaConf:
    """The config a Hydra run would compose: root keys, the selected sources, curation=paper."""
    cfg = OmegaConf.create({"seed": 0, "paths": {"run_dir": str(tmp_path / "run")},
                            "model": {"tokenizer_path": str(tokenizer_dir)}})
    cfg.source = sources if sources is not None else {"demo": OmegaConf.load(CONF / "source" / "demo.yaml")}
    cfg.curation = OmegaConf.load(CONF / "curation" / "paper.yaml")
    cfg.curation.progress = False
    for k, v in curation.items():
        OmegaConf.update(cfg, f"curation.{k}", v, force_add=True)
    return cfg
