import json

from lingshu.data.demo import demo_samples
from lingshu.data.shards import ShardWriter, iter_samples, iter_tar
from lingshu.synthesis import build_synthesizers
from lingshu.synthesis.output import synthesize_shard_dir, write_synthesized

from .helpers import compose_synthesis


def test_demo_synthesis_round_trips_through_shards(tmp_path):
    synthesis = compose_synthesis("+synthesis=[template_vqa,ocr_render]", "seed=0")
    syns = build_synthesizers(synthesis)
    samples = list(demo_samples("train", seed=0, num_images=12, num_text=5, planted=False))
    result = write_synthesized(syns, samples, tmp_path, max_count=20)
    assert result["counts"]["template_vqa"]["synthesized"] == 12 * 4
    assert result["counts"]["ocr_render"]["synthesized"] == 5
    assert [s["count"] for s in result["shards"]] == [20, 20, 13]
    read = [s for shard in result["shards"] for s in iter_tar(tmp_path / shard["name"])]
    assert len(read) == 53 and len({s.id for s in read}) == 53
    assert all(s.meta["synthesis"] in ("template_vqa", "ocr_render") and s.images for s in read)
    assert (tmp_path / "synth_rejects.jsonl").read_text() == ""

    again = write_synthesized(build_synthesizers(synthesis), samples, tmp_path, max_count=20)
    assert [s["sha256"] for s in again["shards"]] == [s["sha256"] for s in result["shards"]]  # deterministic
    assert sorted(p.name for p in tmp_path.glob("synth-*")) == [s["name"] for s in result["shards"]]
    json.dumps(result)  # fits in a manifest


def test_synthesis_into_a_curated_shard_dir_updates_its_manifest(tmp_path):
    samples = list(demo_samples("train", seed=0, num_images=6, num_text=2, planted=False))
    with ShardWriter(tmp_path, prefix="shard", max_count=10) as w:
        for s in samples:
            w.write(s)
    shards = w.shards
    counts = {"read": len(samples), "kept": len(samples), "quarantined": 0, "dropped": {}, "quarantined_by": {}}
    (tmp_path / "manifest.json").write_text(json.dumps({"source": "demo", "shards": shards, "counts": counts}))
    syns = build_synthesizers(compose_synthesis("+synthesis=[template_vqa,ocr_render]"))
    for _ in range(2):  # the rerun must not read its own output as input
        result = synthesize_shard_dir(syns, tmp_path)
        syns = build_synthesizers(compose_synthesis("+synthesis=[template_vqa,ocr_render]"))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["counts"]["synthesis"]["template_vqa"]["synthesized"] == 6 * 4
    assert manifest["counts"]["synthesis"]["ocr_render"]["synthesized"] == 2
    assert manifest["shards"] == shards + result["shards"]
    everything = list(iter_samples([tmp_path]))
    assert len(everything) == len(samples) + 26
    assert sum("synthesis" in s.meta for s in everything) == 26
