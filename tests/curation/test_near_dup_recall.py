"""Near-duplicate recall and precision of the paper's MinHash op (conf/curation/paper.yaml) on a
planted corpus: 1,200 near-duplicate pairs at exact word-5-gram Jaccard 0.85-0.99 and 300 decoys at
0.2-0.5, run through the curation runner across two sources with different priorities."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from lingshu.curation.dedup import MinHashDedup, lsh_split, p_candidate
from lingshu.curation.planted import jaccard, planted_corpus, write_instruction_jsonl
from lingshu.curation.summary import print_summary
from lingshu.curation.runner import Curation, curate
from lingshu.data.shards import iter_samples
from lingshu.data.sources.text import InstructionJsonlSource
from lingshu.tasks.curate import build_ops

from curation_helpers import CONF


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    originals, copies, pairs = planted_corpus(n_dups=1200, n_decoys=300, seed=3)
    node = OmegaConf.load(CONF / "curation" / "paper.yaml").ops.minhash_text
    sources = {  # the copies' source is the more reliable one: its copy must be the one kept
        "web": InstructionJsonlSource(path=write_instruction_jsonl(root / "web.jsonl", originals), name="web"),
        "textbook": InstructionJsonlSource(path=write_instruction_jsonl(root / "textbook.jsonl", copies),
                                           name="textbook", priority=1),
    }
    cur = Curation(sources=sources, ops=build_ops({"minhash_text": node}), out_dir=root / "out",
                   config_hash="planted", num_partitions=3)
    curate(cur)
    rejects = {}
    for name in sources:
        for line in (root / "out" / name / "rejects.jsonl").read_text().splitlines():
            r = json.loads(line)
            rejects[r["id"]] = r
    kept = {s.id for name in sources for s in iter_samples([root / "out" / name])}
    return originals, copies, pairs, rejects, kept


def test_planted_jaccards_are_exact_and_span_the_ranges(result):
    originals, copies, pairs, _, _ = result
    text = dict(originals + copies)
    for p in pairs[::50]:  # recomputed here from the documents themselves
        assert p.jaccard == pytest.approx(jaccard(text[p.original].split(), text[p.copy].split()))
    dups = [p.jaccard for p in pairs if p.jaccard >= 0.85]
    decoys = [p.jaccard for p in pairs if p.jaccard <= 0.5]
    assert len(dups) == 1200 and len(decoys) == 300
    assert min(dups) < 0.87 and max(dups) > 0.97 and min(decoys) < 0.25 and max(decoys) > 0.45


def test_recall_and_precision_at_the_threshold(result):
    _, _, pairs, rejects, kept = result
    removed = set(rejects)
    dups = [p for p in pairs if p.jaccard >= 0.85]
    decoys = [p for p in pairs if p.jaccard <= 0.5]
    found = [p for p in dups if f"web-{p.original}" in removed]
    assert len(found) / len(dups) >= 0.99
    assert not [p for p in decoys if f"web-{p.original}" in removed]
    planted = {f"web-{p.original}" for p in dups}
    assert len(removed & planted) / len(removed) >= 0.999  # precision
    # the more reliable source's copy is the one kept, and named as the duplicate
    assert not any(r.startswith("textbook-") for r in removed)
    for p in found:
        r = rejects[f"web-{p.original}"]
        assert r["op"] == "minhash_text" and r["statistic"]["duplicate_of"] == f"textbook-{p.copy}"
        assert r["statistic"]["duplicate_source"] == "textbook" and r["statistic"]["jaccard"] >= 0.8
    assert len(kept) + len(removed) == 2 * len(pairs)


def test_default_split_catches_the_threshold_and_explicit_split_is_kept():
    op = MinHashDedup(name="m")
    assert (op.bands, op.rows) == lsh_split(0.8, 256, 0.99) and op.bands * op.rows <= 256
    assert p_candidate(0.8, op.bands, op.rows) >= 0.99 > p_candidate(0.8, op.bands - 1, op.rows)
    assert p_candidate(0.8, 256 // (op.rows + 1), op.rows + 1) < 0.99  # no split with more rows reaches it
    old = MinHashDedup(name="m", num_perm=128, bands=9, rows=13)
    assert (old.bands, old.rows) == (9, 13) and p_candidate(0.85, 9, 13) < 0.7
    summary = op.describe()
    assert f"{op.bands} bands x {op.rows} rows of 256" in summary and "0.85: 1.000/0.98" in summary
    with pytest.raises(ValueError, match="bands and rows"):
        MinHashDedup(name="m", bands=4)
    with pytest.raises(ValueError, match="candidate_recall must be in"):
        MinHashDedup(name="m", candidate_recall=1.0)
    with pytest.raises(ValueError, match="exceeds num_perm"):
        MinHashDedup(name="m", num_perm=64, bands=9, rows=13)


def test_summary_prints_the_s_curve(capsys):
    counts = {"web": {"read": 2, "kept": 1, "quarantined": 0, "dropped": {"minhash_text": 1}, "quarantined_by": {}}}
    print_summary(counts, build_ops({"minhash_text": OmegaConf.load(CONF / "curation" / "paper.yaml").ops.minhash_text}))
    out = capsys.readouterr().out
    assert "curation summary" in out and "minhash_text: LSH 26 bands x 8 rows of 256" in out
    assert "Jaccard -> P(candidate)/P(removed): 0.50: 0.097/0.000" in out
