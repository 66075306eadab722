"""`Sample.to_json` is shallow (no deep copy) and the shards it writes are byte for byte those of the
deep-copying `dataclasses.asdict` it replaced."""

from __future__ import annotations

import json

from omegaconf import OmegaConf

from lingshu.schema import Sample
from lingshu.tasks.curate import run

from curation_helpers import CONF, make_cfg
from perf.common import deep_to_json  # the previous implementation, as the reference


def tree(root) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_curated_shards_are_byte_identical(tmp_path, tokenizer_dir, monkeypatch):
    demo = OmegaConf.load(CONF / "source" / "demo.yaml")
    demo.num_images, demo.num_text = 120, 40
    outputs = {}
    for name in ("shallow", "deep"):
        if name == "deep":
            monkeypatch.setattr(Sample, "to_json", deep_to_json)
        cfg = make_cfg(tmp_path / name, tokenizer_dir, sources={"demo": demo}, output_dir=str(tmp_path / name / "out"),
                       num_partitions=2, workers=1)
        counts = run(cfg)["counts"]["demo"]
        outputs[name] = tree(tmp_path / name / "out")
        assert counts["kept"] > 100 and sum(counts["dropped"].values()) > 0
    assert any(k.endswith(".tar") for k in outputs["shallow"])
    assert outputs["shallow"] == outputs["deep"]


def test_nested_unicode_meta_serialises_alike():
    meta = {"curation": {"phash": ["00ff", "ff00"], "jaccard": 0.8125, "none": None},
            "note": "Größe 5 mm, 肺结节", "rows": [1, (2, 3)], "flag": True}
    s = Sample(id="x.1/2", source="s", kind="vqa", messages=[{"role": "user", "content": "<image>\nIs it? ü"},
               {"role": "assistant", "content": "yes"}], images=[b"\xff\xd8\xff\x00"], answer="yes",
               answer_type="closed", meta=meta)
    assert json.dumps(s.to_json(), ensure_ascii=False, sort_keys=True) == \
        json.dumps(deep_to_json(s), ensure_ascii=False, sort_keys=True)
    assert list(s.to_json()) == list(deep_to_json(s))  # same key order, unsorted too
    back = Sample.from_json(json.loads(json.dumps(s.to_json())), s.images)
    assert back.meta["note"] == meta["note"] and back.to_json()["num_images"] == 1
