"""The demo corpus through `curation=paper`: exactly the planted records go, nothing is lost."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest
import webdataset as wds

from lingshu.data import demo
from lingshu.data.shards import file_digest, iter_samples, list_shards
from lingshu.curation.runner import merge
from lingshu.tasks.curate import make_curation, run

from curation_helpers import make_cfg

EXPECTED_REJECTS = {
    "demo-planted-tiny": ("min_size", "drop"),
    "demo-planted-exact_dup": ("phash_caption", "drop"),
    "demo-planted-near_dup": ("phash_caption", "drop"),
    "demo-planted-corrupt": ("decode", "quarantine"),
    "demo-planted-long_caption": ("caption_tokens", "drop"),
}


def leaked_by_phash(num_train: int = 800, num_test: int = 100) -> tuple[dict, set]:
    """Independent oracle (imagehash directly): training images whose pHash equals a benchmark
    image's. The synthetic test images share no pixels with training, but near-identical slices
    can hash alike; by the paper's rule such a training image goes, with every question on it."""
    import io

    import imagehash
    from PIL import Image

    def ph(b):
        return str(imagehash.phash(Image.open(io.BytesIO(b)).convert("RGB")))

    test = {ph(demo.image_for(i, 0, "test")[1]): f"demo:demo-test-{i:05d}" for i in range(num_test)}
    leaked, matches, seen = {}, set(), set()
    for i in range(num_train):
        lab, img = demo.image_for(i, 0, "train")
        h = ph(img)
        if h in test:
            matches.add(test[h])
            leaked.update({s.id: ("decontaminate", "drop") for s in demo.image_samples(i, 0, "train", lab, img)})
        if h in seen:  # near-identical synthetic slices: the later caption goes first (caption dedup runs earlier)
            leaked[f"demo-train-{i:05d}-caption"] = ("phash_caption", "drop")
        seen.add(h)
    return leaked, matches


LEAKED, LEAK_MATCHES = leaked_by_phash()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, tokenizer_dir):
    tmp = tmp_path_factory.mktemp("demo")
    cfg = make_cfg(tmp, tokenizer_dir)
    cfg.benchmark = {"demo": {"_target_": "lingshu.datasets.demo.DemoBenchmark", "seed": 0,
                              "num_images": 100}}  # what the root config selects by default
    return cfg, run(cfg)


def test_planted_records_end_as_expected(demo_run):
    cfg, result = demo_run
    out = Path(result["shard_dirs"]["demo"])
    rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    assert {r["id"]: (r["op"], r["action"]) for r in rejects} == {**EXPECTED_REJECTS, **LEAKED}
    assert all(any(m in r["reason"] for m in LEAK_MATCHES) for r in rejects if r["op"] == "decontaminate")
    for r in rejects:
        assert r["source"] == "demo" and r["reason"] and "statistic" in r
    dup = next(r for r in rejects if r["id"] == "demo-planted-near_dup")
    assert dup["statistic"]["duplicate_of"] == "demo-train-00000-caption"

    every = [s.id for s in demo.demo_samples("train", 0)]
    kept = [s.id for s in iter_samples([out])]
    assert kept == [i for i in every if i not in EXPECTED_REJECTS and i not in LEAKED]  # all others, in order


def test_manifest_balances_and_lists_real_shards(demo_run):
    _, result = demo_run
    out = Path(result["shard_dirs"]["demo"])
    m = json.loads((out / "manifest.json").read_text())
    c = m["counts"]
    total = sum(1 for _ in demo.demo_samples("train", 0))
    assert c["read"] == total and c["kept"] == total - 5 - len(LEAKED) and c["quarantined"] == 1
    assert c["read"] == c["kept"] + c["quarantined"] + sum(c["dropped"].values())
    assert result["counts"]["demo"] == c
    assert sum(s["count"] for s in m["shards"]) == c["kept"]
    for s in m["shards"]:
        assert file_digest(out / s["name"]) == s["sha256"] and (out / s["name"]).stat().st_size == s["bytes"]
    assert sorted(p.name for p in out.glob("*.tar")) == [p.name for p in list_shards(out)]
    assert not (out.parent / "_work").exists() or not any((out.parent / "_work").iterdir())


def test_shards_read_with_plain_webdataset_and_tar(demo_run):
    _, result = demo_run
    shards = [str(p) for p in list_shards(result["shard_dirs"]["demo"])]
    n = 0
    for rec in wds.WebDataset(shards, shardshuffle=False):
        meta = json.loads(rec["json"])
        assert rec["__key__"] == meta["id"] and meta["num_images"] == sum(k.endswith(".png") for k in rec)
        if meta["num_images"]:
            assert rec["0.png"].startswith(b"\x89PNG")
            assert meta["meta"]["curation"]["min_side"] >= 64
            assert len(meta["meta"]["curation"]["phash"]) == 1 and meta["meta"]["curation"]["contamination"] is None
        n += 1
    assert n == sum(1 for _ in demo.demo_samples("train", 0)) - 5 - len(LEAKED)
    with tarfile.open(shards[0]) as tar:
        names = tar.getnames()
    assert names[0].endswith(".json") and names[1].endswith(".0.png")
    listed = subprocess.run(["tar", "-tf", shards[0]], capture_output=True, text=True, check=True).stdout.split()
    assert listed == names  # GNU tar reads them too


def test_output_is_the_same_for_any_partitioning(tmp_path, tokenizer_dir):
    small = {"demo": {"_target_": "lingshu.datasets.demo.DemoSource", "seed": 0, "num_images": 40,
                      "num_text": 10, "kind": "instruction"}}
    hashes = []
    for parts, workers in ((1, 1), (3, 2)):
        cfg = make_cfg(tmp_path / f"p{parts}", tokenizer_dir, sources=small, num_partitions=parts,
                       workers=workers, shard_max_count=64)
        out = Path(run(cfg)["shard_dirs"]["demo"])
        m = json.loads((out / "manifest.json").read_text())
        hashes.append(([s["sha256"] for s in m["shards"]], m["counts"], (out / "rejects.jsonl").read_bytes()))
    assert hashes[0] == hashes[1] and len(hashes[0][0]) > 1


def test_partition_jobs_then_merge_equal_one_run(tmp_path, tokenizer_dir):
    """What a cluster fan-out does: one job per partition (map only), then one run that merges."""
    small = {"demo": {"_target_": "lingshu.datasets.demo.DemoSource", "seed": 1, "num_images": 24,
                      "num_text": 8, "kind": "instruction"}}
    shared = str(tmp_path / "shared")
    job = make_cfg(tmp_path / "job", tokenizer_dir, sources=small, num_partitions=2, output_dir=shared)
    job.curation.partition = 1
    assert run(job) == {"partition": 1, "status": "mapped"}
    assert run(job)["status"] == "already mapped" and not (Path(shared) / "demo" / "manifest.json").exists()
    with pytest.raises(RuntimeError, match=r"missing \[0\] of 2"):
        merge(make_curation(job))
    job.curation.partition = 0
    run(job)
    job.curation.partition = None
    merged = run(job)
    one = run(make_cfg(tmp_path / "one", tokenizer_dir, sources=small, num_partitions=1, workers=1))
    manifests = [json.loads((Path(r["shard_dirs"]["demo"]) / "manifest.json").read_text()) for r in (merged, one)]
    assert manifests[0] == manifests[1]
