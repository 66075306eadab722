"""Config building shared by the curation tests and the kill helper subprocess."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

CONF = Path(__file__).resolve().parents[2] / "conf"


def make_cfg(tmp_path: Path, tokenizer_dir: Path, sources: dict | None = None, **curation) -> OmegaConf:
    """The config a Hydra run would compose: root keys, the selected sources, curation=paper."""
    cfg = OmegaConf.create({"seed": 0, "paths": {"run_dir": str(tmp_path / "run")},
                            "model": {"tokenizer_path": str(tokenizer_dir)}})
    cfg.source = sources if sources is not None else {"demo": OmegaConf.load(CONF / "source" / "demo.yaml")}
    cfg.curation = OmegaConf.load(CONF / "curation" / "paper.yaml")
    cfg.curation.progress = False
    cfg.paths.curated_dir = str(curation.pop("output_dir", tmp_path / "run" / "curate"))  # where shards go
    for k, v in curation.items():
        OmegaConf.update(cfg, f"curation.{k}", v, force_add=True)
    return cfg
