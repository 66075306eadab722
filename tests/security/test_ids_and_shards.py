"""Ids are unique where they are used (curated shards, replay files), shards read back equal to the
manifest, bad shard members are skipped and counted by name, and checkpoints are loaded with
`weights_only=True`."""

from __future__ import annotations

import ast
import json
import logging
import tarfile
from pathlib import Path

import pytest

from lingshu.curation.runner import Curation, curate
from lingshu.data.datamodule import MixtureStream
from lingshu.data.shards import ShardWriter, iter_samples, iter_tar, tar_member
from lingshu.data.sources.conversation import LlavaSource
from lingshu.engines.base import GenerationRequest
from lingshu.engines.replay import ReplayEngine
from lingshu.schema import Sample
from lingshu.data.mixture import MixtureEntry

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]


def llava(rid: str, text: str = "q") -> dict:
    return {"id": rid, "conversations": [{"from": "human", "value": f"{text} {rid}"}, {"from": "gpt", "value": "a"}]}


def test_duplicate_and_colliding_ids_keep_the_first_and_shards_read_back_to_kept(tmp_path):
    recs = [llava("a"), llava("a", "again"), llava("a.b"), llava("a_b"), llava("c/d"), llava("c_d"), llava("e"), []]
    (tmp_path / "d.json").write_text(json.dumps(recs))
    out = tmp_path / "out"
    for partitions in (1, 3):  # duplicates meet across partitions too
        cur = Curation({"llava": LlavaSource(path=tmp_path / "d.json")}, [], out / str(partitions), "h" * 64,
                       num_partitions=partitions)
        counts = curate(cur)["counts"]["llava"]
        assert counts["read"] == len(recs) and counts["kept"] == 4 and counts["quarantined"] == 1
        assert counts["dropped"] == {"duplicate_id": 3}
        rejects = [json.loads(line) for line in (out / str(partitions) / "llava" / "rejects.jsonl").read_text().splitlines()]
        dup = [r for r in rejects if r["op"] == "duplicate_id"]
        assert [(r["id"], r["row"]) for r in dup] == [("llava-a", 1), ("llava-a_b", 3), ("llava-c_d", 5)]
        back = list(iter_samples([out / str(partitions) / "llava"]))
        assert len(back) == counts["kept"]
        assert [s.id for s in back] == ["llava-a", "llava-a.b", "llava-c/d", "llava-e"]
        assert back[0].messages[0]["content"] == "q a"  # the first copy, not the later one


def write_replay(path: Path, lines: list) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_replay_files_with_conflicting_duplicates_name_both_lines(tmp_path):
    f = write_replay(tmp_path / "p.jsonl", [{"id": "1", "response": "A"}, {"id": "2", "response": "B"},
                                            {"id": "1", "response": "C"}])
    with pytest.raises(ValueError, match=rf"id '1' at {f}:3 was already read at {f}:1"):
        ReplayEngine(str(f))
    same = write_replay(tmp_path / "same.jsonl", [{"id": "1", "response": "A"}, {"id": "1", "response": "A"}])
    assert ReplayEngine(str(same)).generate([GenerationRequest(messages=[], id="1")]) == ["A"]


@pytest.mark.parametrize("line,match", [
    ('["1", "A"]', r"p.jsonl:2 is not an \{'id', 'response'\} record"),
    ({"id": "x", "response": ["A"]}, r"p.jsonl:2: response is a list, not text"),
    ('{"id": "x", "resp', r"p.jsonl:2 is not valid JSON"),
])
def test_bad_replay_lines_name_file_and_line(tmp_path, line, match):
    f = write_replay(tmp_path / "p.jsonl", [{"id": "0", "response": "A"}, line])
    with pytest.raises(ValueError, match=match):
        ReplayEngine(str(f))


def sample(i: int) -> Sample:
    return Sample(id=f"s{i}", source="t", kind="text", messages=[{"role": "user", "content": f"q{i}"},
                                                                  {"role": "assistant", "content": "a"}])


def hostile_shard(path: Path) -> Path:
    """Good samples around a group with no JSON, a `.pth` posing as image 0, and an oversized member."""
    with ShardWriter(path.parent, prefix=path.stem) as w:
        w.write(sample(0))
        w.write_span(tar_member("nojson.0.png", b"\x89PNG"))
        w.write_raw("pickled", {"json": json.dumps(sample(1).to_json()).encode(), "0.pth": b"\x80\x04evil"})
        w.write_raw("big", {"json": json.dumps(sample(2).to_json()).encode(), "0.png": b"\0" * 5000})
        w.write_raw("badjson", {"json": b"{not json"})
        w.write(sample(3))
    return next(path.parent.glob(f"{path.stem}-*.tar"))


def test_bad_shard_members_are_skipped_named_and_limited(tmp_path, caplog):
    from lingshu.data.shards import ShardGuard, ShardReadError

    shard = hostile_shard(tmp_path / "x")
    with caplog.at_level(logging.WARNING, logger="lingshu.data.shards"):
        assert [s.id for s in iter_tar(shard, ShardGuard(max_member_bytes=4096))] == ["s0", "s3"]
    text = caplog.text
    assert f"{shard}: sample 'nojson': no nojson.json member" in text
    assert "member pickled.0.pth is not an image" in text
    assert "member big.0.png is 5000 bytes, over max_member_bytes 4096; not read" in text
    assert "sample 'badjson': badjson.json is not a sample header" in text
    with pytest.raises(ShardReadError, match=r"over max_bad_samples=3"):
        list(iter_tar(shard, ShardGuard(max_bad_samples=3)))


def test_the_training_stream_skips_bad_members_instead_of_crashing(tmp_path):
    from lingshu.data.shards import ShardGuard

    shard = hostile_shard(tmp_path / "x")
    stream = MixtureStream({"t": [shard]}, [MixtureEntry(source="t")], seed=0, samples_per_epoch=6,
                           micro_batch_size=1, guard=ShardGuard(max_member_bytes=4096))
    assert sorted(s.id for batch in stream for s in batch) == ["s0", "s0", "s0", "s3", "s3", "s3"]
    assert len(stream.guard.seen) == 4  # each bad sample counted once though the stream cycles past it


def test_a_bad_sample_is_logged_and_counted_once_by_counting_and_streaming(tmp_path, caplog):
    """Counting the epoch (two entries share the shard) and streaming it meet each bad sample
    several times: one guard sees it once, so exactly max_bad_samples=4 bad samples pass."""
    from lingshu.data.datamodule import ShardDataModule
    from lingshu.data.shards import ShardGuard

    hostile_shard(tmp_path / "t" / "x")
    mix = [MixtureEntry(source="t", kinds=["text"]), MixtureEntry(source="t", ids="s3")]
    with caplog.at_level(logging.WARNING, logger="lingshu.data.shards"):
        dm = ShardDataModule(tmp_path, mix, collate=list, seed=0, micro_batch_size=1,
                             guard=ShardGuard(max_bad_samples=4, max_member_bytes=4096))
        assert dm.train_set.samples_per_epoch == 3  # s0 and s3 by kind, s3 by id
        assert len([s for batch in dm.train_set for s in batch]) == 3
    assert len(dm.guard.seen) == 4
    assert caplog.text.count("skipped unreadable sample") == 4


@pytest.mark.parametrize("damage", ["header", "truncated"])
def test_a_corrupt_or_cut_tar_names_the_shard_instead_of_losing_samples(tmp_path, damage):
    from lingshu.data.shards import ShardReadError

    shard = tmp_path / "shard-000000.tar"
    with ShardWriter(tmp_path) as w:
        for i in range(3):
            w.write(sample(i))
    with tarfile.open(shard) as tar:
        second = tar.getmembers()[1].offset
    data = shard.read_bytes()
    shard.write_bytes(data[:second] + b"\xff" * 512 + data[second + 512:] if damage == "header" else data[:second])
    match = "unreadable tar header at byte" if damage == "header" else "without the end-of-archive blocks"
    with pytest.raises(ShardReadError, match=rf"{shard}: .*{match}|{shard}: ends after sample 's0' {match}"):
        list(iter_tar(shard))


def test_every_checkpoint_load_passes_weights_only_true():
    """torch.load, and Lightning's resume (trainer.fit with ckpt_path), must say weights_only=True:
    torch < 2.6 (allowed by pyproject) would otherwise unpickle arbitrary code."""
    found = []
    for path in (ROOT / "lingshu").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func)
            kw = {k.arg: k.value for k in node.keywords}
            if name == "torch.load" or (name.endswith(".fit") and "ckpt_path" in kw):
                ok = isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", ok))
    assert found and all(ok for _, ok in found), found
