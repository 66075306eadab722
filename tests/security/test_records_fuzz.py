"""The JSON record splitter against `json.loads` on random nested values, layouts and chunk sizes:
the same items in the same order, oversized items replaced by an error in their own place, and a
file cut anywhere never yields a wrong value."""

from __future__ import annotations

import io
import json
import random

from lingshu.data.sources.base import SourceError
from lingshu.data.sources.records import _json_items

TRICKY = [1, -2.5e10, 12345678901234567890123, True, False, None, "", 'a"b\\', "\\", '\\"', "]}[{,:", "é中\n\u2028",
          "\\u005d"]


def value(rng: random.Random, depth: int = 0):
    r = rng.random()
    if depth > 3 or r < 0.3:
        return rng.choice(TRICKY)
    if r < 0.6:
        return [value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(["a", "]", '"', ",", ":", "{"]) + str(i): value(rng, depth + 1) for i in range(rng.randrange(4))}


def items(data: bytes, limit: int = 1 << 20, chunk: int = 1 << 20) -> list:
    return [v for _, v in _json_items(io.BytesIO(data), limit, chunk)]


def test_random_arrays_and_objects_split_like_json_loads():
    rng = random.Random(0)
    for _ in range(400):
        data = [value(rng) for _ in range(rng.randrange(6))]
        indent = rng.choice([None, 0, 2])
        text = json.dumps(data, indent=indent, ensure_ascii=rng.random() < 0.5) + rng.choice(["", "\n "])
        obj = {f"k{i}": v for i, v in enumerate(data)}
        for chunk in (1, 3, 1 << 20):
            assert items(text.encode(), chunk=chunk) == data
            assert items(json.dumps(obj, indent=indent).encode(), chunk=chunk) == [
                dict(v, _key=k) if isinstance(v, dict) else v for k, v in obj.items()]


def test_oversized_items_are_errors_in_their_place():
    rng = random.Random(1)
    for _ in range(100):
        data = [value(rng) for _ in range(6)]
        raw = [json.dumps(v).encode() for v in data]
        limit = rng.choice([4, 16, 64])
        out = items(b"[" + b", ".join(raw) + b"]", limit=limit, chunk=rng.choice([2, 5, 1 << 20]))
        assert len(out) == len(data)
        for got, want, r in zip(out, data, raw):
            assert (isinstance(got, SourceError) and "max_record_bytes" in str(got)) if len(r) > limit else got == want


def test_a_cut_file_never_yields_a_wrong_value():
    rng = random.Random(2)
    data = [value(rng) for _ in range(30)]
    text = json.dumps(data).encode()
    for cut in range(1, len(text)):
        out = items(text[:cut], chunk=7)
        good = [v for v in out if not isinstance(v, SourceError)]
        assert good == data[:len(good)] and isinstance(out[-1], SourceError)
