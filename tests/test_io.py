"""lingshu.io: a failed write keeps the old file, torn JSON lines are skipped only when asked."""

import json

import numpy as np
import pytest

from lingshu import io


def test_failed_atomic_write_keeps_previous_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "manifest.json"
    io.write_json(path, {"shards": 1})
    with pytest.raises(RuntimeError), io.atomic_open(path) as f:
        f.write('{"shards": ')
        raise RuntimeError("killed mid-write")
    assert json.loads(path.read_text()) == {"shards": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def _append(path, *records):
    with io.open_append(path) as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def test_jsonl_round_trip_and_torn_last_line(tmp_path):
    path = tmp_path / "predictions.jsonl"
    _append(path, {"id": "a"}, {"id": "é"})
    _append(path, {"id": "c"})
    with path.open("a") as f:
        f.write('{"id": "d", "resp')  # a run killed while writing: no newline after it
    assert [r["id"] for r in io.read_jsonl(path, skip_torn=True)] == ["a", "é", "c"]
    with pytest.raises(ValueError):
        list(io.read_jsonl(path))
    _append(path, {"id": "e"})  # the resumed run: its record must not be glued to the torn line
    assert [r["id"] for r in io.read_jsonl(path, skip_torn=True)] == ["a", "é", "c", "e"]


def test_config_hash_ignores_key_order_and_reads_numpy_scalars():
    assert io.config_hash({"a": 1, "b": [2, 3]}) == io.config_hash({"b": [2, 3], "a": 1})
    assert io.config_hash({"t": np.float32(0.5)}) == io.config_hash({"t": 0.5})
    assert io.config_hash({"a": 1}) != io.config_hash({"a": 2})
