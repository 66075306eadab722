"""Shard writer/reader: round trip, raw copy between shards, atomic finalisation, deterministic bytes."""

from __future__ import annotations

import pytest

from lingshu.data import demo
from lingshu.data.shards import ShardWriter, file_digest, iter_samples, iter_tar, iter_tar_raw, list_shards


def samples(n=7):
    return list(demo.demo_samples("train", 0, num_images=2, num_text=n))[:n]


def test_round_trip_rolls_over_by_count(tmp_path):
    src = samples()
    with ShardWriter(tmp_path, max_count=3) as w:
        for s in src:
            w.write(s)
    assert [s["count"] for s in w.shards] == [3, 3, 1]
    back = list(iter_samples([tmp_path]))
    assert [s.to_json() for s in back] == [s.to_json() for s in src] and back[0].images == src[0].images
    assert [p.name for p in list_shards(tmp_path)] == [s["name"] for s in w.shards]


def test_raw_copy_is_byte_identical(tmp_path):
    with ShardWriter(tmp_path / "a", max_count=100) as w:
        for s in samples():
            w.write(s, key=f"k{s.id}")
    with ShardWriter(tmp_path / "b", max_count=100) as w2:
        for key, parts in iter_tar_raw(tmp_path / "a" / "shard-000000.tar"):
            assert key.startswith("k") and next(iter(parts)) == "json"
            w2.write_raw(key, parts)
    assert file_digest(tmp_path / "a" / "shard-000000.tar") == file_digest(tmp_path / "b" / "shard-000000.tar")


def test_an_error_leaves_no_partial_shard(tmp_path):
    with pytest.raises(RuntimeError):
        with ShardWriter(tmp_path, max_count=2) as w:
            for s in samples(3):
                w.write(s)
            raise RuntimeError("killed")
    assert [p.name for p in tmp_path.iterdir()] == ["shard-000000.tar"]
    assert len(list(iter_tar(tmp_path / "shard-000000.tar"))) == 2
