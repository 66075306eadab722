"""Each op on its own: the statistic it records and the decision it takes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from lingshu.curation.decontaminate import Decontaminate
from lingshu.curation.dedup import Deduper, ExactDedup, HammingTable, MinHashDedup, PhashDedup
from lingshu.curation.ops import DecodeCheck, Facts, MinSize, TokenLength
from lingshu.data.sources.base import chat
from lingshu.schema import BenchmarkItem, Sample


def jpeg(w=80, h=80, shade=120) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (shade, 40, 200)).save(buf, format="JPEG")
    return buf.getvalue()


def noise(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray((rng.random((8, 8, 3)) * 255).astype(np.uint8)).resize((96, 96)).save(buf, format="PNG")
    return buf.getvalue()


def sample(images=(), text="What is shown?", answer="A lesion.", kind="vqa", sid="s", source="src") -> Sample:
    return Sample(id=sid, source=source, kind=kind, images=list(images), messages=chat(text, answer, len(images)))


def test_decode_check_quarantines_bad_images_and_records_sizes():
    op = DecodeCheck(max_pixels=100 * 100)
    good = sample([jpeg(), jpeg(90, 70)])
    assert op(good, Facts()) is None and good.meta["curation"]["image_sizes"] == [[80, 80], [90, 70]]
    for data, why in ((jpeg()[:300], "truncated"), (b"", "empty"), (b"not an image", "cannot identify"),
                      (jpeg(200, 100), "max_pixels")):
        v = op(sample([data]), Facts())
        assert v.action == "quarantine" and why in v.reason.lower()


def test_min_size_and_caps():
    assert MinSize()(sample([jpeg(64, 300)]), Facts()) is None
    v = MinSize()(s := sample([jpeg(80, 80), jpeg(63, 200)]), Facts())
    assert v.action == "drop" and v.statistic == 63 and s.meta["curation"]["min_side"] == 63
    assert MinSize(max_aspect=3)(sample([jpeg(64, 300)]), Facts()).reason.startswith("aspect ratio 4.69")


def test_token_length_counts_captions_only_and_needs_a_tokenizer(tokenizer_dir):
    with pytest.raises(ValueError, match="no tokenizer; set model.tokenizer_path"):
        TokenLength(tokenizer=None)
    with pytest.raises(FileNotFoundError, match="no tokenizer.json"):
        TokenLength(tokenizer="/nonexistent")
    words = TokenLength(fallback="whitespace", min_tokens=3, max_tokens=5)
    assert words(sample(kind="caption", answer="one two"), Facts()).reason == "2 tokens < 3"
    assert words(sample(kind="caption", answer="one two three four five six"), Facts()).statistic == 6
    assert not words.applies(sample(kind="vqa", answer="yes"))  # never instruction answers
    bpe = TokenLength(tokenizer=str(tokenizer_dir))
    s = sample(kind="caption", answer="A CT slice showing a small dark lesion on the left side of the image.")
    assert bpe(s, Facts()) is None and s.meta["curation"]["caption_tokens"] >= 10


def test_hamming_table_finds_hashes_within_threshold():
    t = HammingTable(threshold=4, granularity="image")
    t.add([0b1111], "a", "x")
    assert t.find([0b1111 ^ (1 << 40) ^ (1 << 63) ^ 1], lambda s: True)[0] == "x"  # distance 3
    assert t.find([0b1111 ^ 0b11111 << 20], lambda s: True) is None  # distance 5
    assert t.find([0b1111], lambda s: s != "a") is None


def run_dedup(op, samples):
    d, out = Deduper(op), []
    for s in samples:
        sig = op.signature(s, Facts())
        out.append(None if sig is None else d.check(sig, s.source, s.id))
    return [v is not None for v in out]


def test_phash_dedup_scopes_and_granularity():
    a, b = jpeg(shade=10), Image.new("RGB", (80, 80), (0, 0, 0))
    b.paste((255, 255, 255), (0, 0, 40, 80))
    buf = io.BytesIO()
    b.save(buf, format="PNG")
    b = buf.getvalue()
    items = [sample([a], sid="1", source="x"), sample([a], sid="2", source="x"), sample([a], sid="3", source="y"),
             sample([b, a], sid="4", source="y")]
    assert run_dedup(PhashDedup(), items) == [False, True, True, False]
    assert run_dedup(PhashDedup(granularity="image"), items) == [False, True, True, True]
    assert run_dedup(PhashDedup(scope="per_source"), items) == [False, True, False, False]
    assert run_dedup(PhashDedup(scope="cross_source"), items) == [False, False, True, False]


def test_minhash_near_duplicates_and_exact_dedup():
    base = " ".join(f"word{i}" for i in range(60))
    items = [sample(text=base, sid="1"), sample(text=base.replace("word59", "other"), sid="2"),
             sample(text=base.replace("word30", "other"), sid="3"), sample(text="something else entirely", sid="4")]
    flags = run_dedup(MinHashDedup(), items)
    assert flags[0] is False and flags[1] is True and flags[3] is False
    assert items[0].meta["curation"]["shingles"] == 58  # 5-grams over 60 question + 2 answer words
    assert run_dedup(MinHashDedup(threshold=0.95), [items[0], items[2]]) == [False, False]  # J about 0.84
    same = [sample(text="Is THERE a mass?", sid="1"), sample(text="is there a mass", sid="2"),
            sample([jpeg()], text="is there a mass", sid="3")]
    assert run_dedup(ExactDedup(), same) == [False, True, False]


def test_decontaminate_images_and_13_grams():
    leak = noise(1)
    long_q = "which of the following findings on this chest radiograph best explains the patient's sudden dyspnea"
    bench = [BenchmarkItem(id="q1", benchmark="b", question=long_q, answer="A", answer_type="open", images=[leak]),
             BenchmarkItem(id="q2", benchmark="b", question="Is there a lesion?", answer="yes", answer_type="closed")]

    class Loader:
        def load(self):
            return iter(bench)

    op = Decontaminate(benchmarks={"b": Loader()})
    op.setup()
    v = op(sample([leak]), Facts())
    assert v.reason == "image matches benchmark item b:q1"
    v = op(sample(text=f"Look: {long_q.upper()}!"), Facts())
    assert "13-gram" in v.reason and v.statistic["match"] == "b:q1"
    assert op(sample(text="Is there a lesion?"), Facts()) is None  # short questions give no 13-gram
    assert op(sample([noise(2)], text="Which findings on this chest radiograph explain it?"), Facts()) is None


def test_int_multimap_keeps_every_value_through_growth():
    from lingshu.curation.dedup import IntMultiMap, fold32

    m = IntMultiMap(capacity=4)
    keys = [fold32(k * 0x9E3779B97F4A7C15) for k in range(3000)]
    for i, k in enumerate(keys):
        m.put(k, i)
    m.put(keys[7], 99999)
    assert sorted(m.get(keys[7])) == [7, 99999]
    assert all(m.get(k) == [i] for i, k in enumerate(keys) if i != 7) and m.get(fold32(-5)) == []


def test_bucket_collisions_are_confirmed_on_the_full_value():
    from lingshu.curation.dedup import DictTable, HammingTable, fold32

    a, b = 0x0000000100000000, 0x0000000000000001
    assert fold32(a) == fold32(b)  # same 32-bit bucket, different 64-bit values
    exact, ham = DictTable(), HammingTable(0, "image")
    exact.add(f"{a:016x}", "s", "first")
    ham.add([a], "s", "first")
    assert exact.find(f"{b:016x}", lambda s: True) is None and ham.find([b], lambda s: True) is None
    assert exact.find(f"{a:016x}", lambda s: True)[0] == "first" == ham.find([a], lambda s: True)[0]


def test_a_dedup_op_limited_to_sources_leaves_the_others_alone(tmp_path, monkeypatch):
    """op.sources names readers: the merge step skips the other sources' records unread."""
    import json

    from lingshu.curation import runner
    from lingshu.curation.runner import Curation, curate, dedup_pass, run_map
    from lingshu.data.sources.text import InstructionJsonlSource

    sources = {}
    for name in ("a", "b"):
        rows = [{"id": str(i), "instruction": "same question", "output": "same answer"} for i in range(2)]
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        sources[name] = InstructionJsonlSource(path=tmp_path / f"{name}.jsonl", name=name)
    cur = Curation(sources, [ExactDedup(sources=["b"])], tmp_path / "out", "x" * 64)
    run_map(cur, [0])
    read, real = [], runner.records
    monkeypatch.setattr(runner, "records", lambda cur, name: read.append(name) or real(cur, name))
    assert len(dedup_pass(cur)) == 1 and read == ["b"]  # "a" never read for an op that is not its
    monkeypatch.undo()
    counts = curate(cur)["counts"]
    assert (counts["a"]["kept"], counts["b"]["kept"]) == (2, 1)
