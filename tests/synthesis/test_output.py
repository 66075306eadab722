import json

from omegaconf import OmegaConf

from lingshu.data.demo import demo_samples
from lingshu.data.shards import iter_tar
from lingshu.synthesis import build_synthesizers
from lingshu.synthesis.output import write_synthesized


def test_demo_synthesis_round_trips_through_shards(tmp_path):
    root = OmegaConf.create({"seed": 0, "synthesis": {name: OmegaConf.load(f"conf/synthesis/{name}.yaml")
                                                      for name in ("template_vqa", "ocr_render")}})
    syns = build_synthesizers(root.synthesis)
    samples = list(demo_samples("train", seed=0, num_images=12, num_text=5, planted=False))
    result = write_synthesized(syns, samples, tmp_path, max_count=20)
    assert result["counts"]["template_vqa"]["synthesized"] == 12 * 4
    assert result["counts"]["ocr_render"]["synthesized"] == 5
    assert [s["count"] for s in result["shards"]] == [20, 20, 13]
    read = [s for shard in result["shards"] for s in iter_tar(tmp_path / shard["name"])]
    assert len(read) == 53 and len({s.id for s in read}) == 53
    assert all(s.meta["synthesis"] in ("template_vqa", "ocr_render") and s.images for s in read)
    assert (tmp_path / "synth_rejects.jsonl").read_text() == ""

    again = write_synthesized(build_synthesizers(root.synthesis), samples, tmp_path, max_count=20)
    assert [s["sha256"] for s in again["shards"]] == [s["sha256"] for s in result["shards"]]  # deterministic
    assert sorted(p.name for p in tmp_path.glob("synth-*")) == [s["name"] for s in result["shards"]]
    json.dumps(result)  # fits in a manifest
