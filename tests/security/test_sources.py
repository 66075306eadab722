"""Hostile and careless data files against the source readers: every input item becomes exactly
one row (a sample or a quarantine that names file, row and what is wrong), nothing outside the
source's root is read, size limits hold before reading, and a missing column is an error."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from lingshu.data.sources.base import Quarantine
from lingshu.data.sources.captions import CaptionPairsSource, ImageFolderSource
from lingshu.data.sources.conversation import LlavaSource
from lingshu.data.sources.parquet import ParquetSource
from lingshu.data.sources.radiology import ReportJsonSource
from lingshu.datasets.vqa_rad import VQARADSource

pytestmark = pytest.mark.timeout(120)


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (80, 80), (120, 60, 30)).save(buf, "PNG")
    return buf.getvalue()


def llava(i) -> dict:
    return {"id": str(i), "conversations": [{"from": "human", "value": f"q{i}"}, {"from": "gpt", "value": f"a{i}"}]}


def rows(source) -> list:
    return list(source)


def quarantined(records) -> list[Quarantine]:
    return [r for r in records if isinstance(r, Quarantine)]


def test_non_object_items_are_one_quarantined_row_each_and_nothing_vanishes(tmp_path):
    items = [llava(0), [], llava(1), [1, 2], {"id": "x", "nested": [[], {"a": ["]"]}]}, "s", 3, None, llava(2)]
    f = tmp_path / "data.json"
    f.write_text(json.dumps(items))
    out = rows(LlavaSource(path=f))
    assert len(out) == len(items)  # one row per item, the bracket inside an item ends nothing
    assert sorted(s.id for s in out if not isinstance(s, Quarantine)) == ["llava-0", "llava-1", "llava-2"]
    bad = quarantined(out)
    assert [q.row for q in bad] == [1, 3, 4, 5, 6, 7] and all(q.file == str(f) for q in bad)
    assert "record is a list" in bad[0].reason


def test_a_23_record_llava_file_with_list_items_reads_23(tmp_path):
    items = [llava(i) if i % 3 else [i, [i]] for i in range(23)]
    f = tmp_path / "llava.json"
    f.write_text(json.dumps(items, indent=1))
    out = rows(LlavaSource(path=f))
    assert len(out) == 23 and len(quarantined(out)) == 8


def test_vqa_rad_list_item_is_one_quarantined_row(tmp_path):
    (tmp_path / "VQA_RAD Image Folder").mkdir()
    (tmp_path / "VQA_RAD Image Folder" / "i.png").write_bytes(png())
    rec = {"qid": 1, "image_name": "i.png", "question": "Is it?", "answer": "yes", "answer_type": "CLOSED",
           "phrase_type": "freeform"}
    (tmp_path / "VQA_RAD Dataset Public.json").write_text(json.dumps([rec, [1, 2], dict(rec, qid=2)]))
    out = rows(VQARADSource(path=tmp_path))
    assert len(out) == 3 and [q.row for q in quarantined(out)] == [1]
    assert {s.id for s in out if not isinstance(s, Quarantine)} == {"vqa_rad-1", "vqa_rad-2"}


@pytest.mark.parametrize("layout", ["jsonl", "json"])
def test_invalid_utf8_quarantines_its_record_with_the_byte_offset(tmp_path, layout):
    good = [json.dumps(llava(i)).encode() for i in range(3)]
    bad = json.dumps(llava(9)).encode().replace(b"q9", b"q\xff9")
    if layout == "jsonl":
        data = b"\n".join([good[0], bad, good[1], good[2]]) + b"\n"
    else:
        data = b"[" + b",".join([good[0], bad, good[1], good[2]]) + b"]"
    f = tmp_path / f"data.{layout}"
    f.write_bytes(data)
    out = rows(LlavaSource(path=f))
    assert len(out) == 4 and len(quarantined(out)) == 1
    q, at = quarantined(out)[0], data.index(b"\xff")
    assert q.file == str(f) and q.row == 1 and f"invalid UTF-8 at byte {at}" in q.reason


def test_invalid_utf8_in_a_csv_row_and_a_sidecar_caption(tmp_path):
    (tmp_path / "a.png").write_bytes(png())
    (tmp_path / "t.csv").write_bytes(b"image,caption\na.png,fine caption\na.png,bad \xfe caption\na.png,also fine\n")
    out = rows(CaptionPairsSource(path=tmp_path / "t.csv", image_root=str(tmp_path)))
    assert len(out) == 3 and [q.row for q in quarantined(out)] == [1]
    assert "invalid UTF-8 in column 'caption' at byte 4" in quarantined(out)[0].reason
    folder = tmp_path / "folder"
    folder.mkdir()
    for name, text in (("x", b"ok"), ("y", b"bad\x80")):
        (folder / f"{name}.png").write_bytes(png())
        (folder / f"{name}.txt").write_bytes(text)
    out = rows(ImageFolderSource(path=folder))
    assert [q.row for q in quarantined(out)] == [1] and "invalid UTF-8 at byte 3" in quarantined(out)[0].reason


def test_a_truncated_array_keeps_what_came_before_and_names_file_and_byte(tmp_path):
    text = json.dumps([llava(i) for i in range(5)])
    f = tmp_path / "cut.json"
    f.write_text(text[: text.index('{"id": "3"') + 12])
    out = rows(LlavaSource(path=f))
    assert [s.id for s in out[:3]] == ["llava-0", "llava-1", "llava-2"]
    q = quarantined(out)
    assert len(q) == 1 and q[0].file == str(f) and q[0].row == 3 and "ends inside item 3" in q[0].reason
    start = text.index('{"id": "3"')
    assert f"starts at byte {start}" in q[0].reason


def test_garbage_after_items_is_named(tmp_path):
    f = tmp_path / "g.json"
    f.write_text(json.dumps([llava(0)])[:-1] + ' "oops" }')
    out = rows(LlavaSource(path=f))
    assert out[0].id == "llava-0" and "expected a comma at byte" in quarantined(out)[0].reason


def test_size_limits_are_checked_before_reading(tmp_path):
    (tmp_path / "a.png").write_bytes(png())
    big = "word " * 2000
    lines = [{"image": "a.png", "caption": "short caption"}, {"image": "a.png", "caption": big}]
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    out = rows(CaptionPairsSource(path=tmp_path / "c.jsonl", image_root=str(tmp_path), max_text_bytes=1000))
    assert [q.row for q in quarantined(out)] == [1] and "over max_text_bytes 1000" in quarantined(out)[0].reason
    out = rows(CaptionPairsSource(path=tmp_path / "c.jsonl", image_root=str(tmp_path), max_record_bytes=1000))
    assert [q.row for q in quarantined(out)] == [1] and "over max_record_bytes 1000; not read" in quarantined(out)[0].reason
    out = rows(CaptionPairsSource(path=tmp_path / "c.jsonl", image_root=str(tmp_path), max_file_bytes=100))
    assert len(quarantined(out)) == 2 and "over max_file_bytes 100; not read" in quarantined(out)[0].reason
    array = tmp_path / "arr.json"
    array.write_text(json.dumps([llava(0), dict(llava(1), pad=big), llava(2)]))
    out = rows(LlavaSource(path=array, max_record_bytes=1000))
    assert len(out) == 3 and [q.row for q in quarantined(out)] == [1] and "not read" in quarantined(out)[0].reason


def test_paths_outside_the_source_root_are_quarantined(tmp_path):
    root, outside = tmp_path / "data", tmp_path / "outside"
    (root / "img").mkdir(parents=True)
    outside.mkdir()
    (outside / "x.png").write_bytes(png())
    (root / "img" / "in.png").write_bytes(png())
    os.symlink(outside / "x.png", root / "img" / "link.png")
    recs = [dict(llava(i), image=p) for i, p in enumerate(
        ["in.png", "../../outside/x.png", str(outside / "x.png"), "link.png"])]
    (root / "d.json").write_text(json.dumps(recs))
    out = rows(LlavaSource(path=root / "d.json", image_root=str(root / "img")))
    assert [q.row for q in quarantined(out)] == [1, 2, 3]
    assert all("outside the source's root" in q.reason and q.field == "image" for q in quarantined(out))
    assert quarantined(rows(LlavaSource(path=root / "d.json", image_root=str(root / "img"), allow_outside_root=True))) == []


def test_an_image_folder_caption_symlinked_out_is_not_read(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash")
    (folder / "a.png").write_bytes(png())
    os.symlink(secret, folder / "a.txt")
    out = rows(ImageFolderSource(path=folder))
    assert len(out) == 1 and "outside the source's root" in out[0].reason


def test_a_misnamed_parquet_column_is_an_error_naming_it(tmp_path):
    table = pa.table({"picture": [{"bytes": png(), "path": None}], "question": ["Is it?"], "answer": ["yes"]})
    pq.write_table(table, tmp_path / "train-00000-of-00001.parquet")
    with pytest.raises(ValueError, match=r"row 0: no column 'image' .*source\.parquet\.image_column="):
        rows(ParquetSource(path=tmp_path, split="train"))
    ok = rows(ParquetSource(path=tmp_path, split="train", image_column="picture"))
    assert len(ok[0].images) == 1


def test_an_oversized_inline_parquet_image_is_quarantined_with_its_size(tmp_path):
    small, big = png(), png() + b"\0" * 1000
    table = pa.table({"image": [{"bytes": small, "path": None}, {"bytes": big, "path": None}],
                      "question": ["Is it?", "Is it?"], "answer": ["yes", "no"]})
    pq.write_table(table, tmp_path / "train-00000-of-00001.parquet")
    out = rows(ParquetSource(path=tmp_path, split="train", max_file_bytes=len(small)))
    assert len(out) == 2 and [q.row for q in quarantined(out)] == [1] and quarantined(out)[0].field == "image"
    assert quarantined(out)[0].reason == f"image of {len(big)} bytes is over max_file_bytes {len(small)}"


def test_report_findings_that_are_objects_are_quarantined(tmp_path):
    (tmp_path / "r.png").write_bytes(png())
    recs = [{"id": "1", "image": ["r.png"], "findings": "Clear lungs."},
            {"id": "2", "image": ["r.png"], "findings": {"lung": "clear"}},
            {"id": "3", "image": ["r.png"], "findings": ["clear"], "impression": "Normal."}]
    (tmp_path / "reports.json").write_text(json.dumps(recs))
    out = rows(ReportJsonSource(path=tmp_path / "reports.json"))
    assert [q.row for q in quarantined(out)] == [1, 2]
    assert "field 'findings' is a dict, not text" in quarantined(out)[0].reason


def test_text_that_no_shard_can_hold_is_quarantined_not_fatal(tmp_path):
    from lingshu.curation.runner import Curation, curate

    (tmp_path / "d.jsonl").write_text(json.dumps(llava(0)) + "\n" + json.dumps(llava(1)).replace("q1", "q\\udcff1") + "\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    for name in (b"ok", b"bad\xff"):  # a file name that is not UTF-8
        (Path(os.fsdecode(bytes(folder) + b"/" + name + b".png"))).write_bytes(png())
        (Path(os.fsdecode(bytes(folder) + b"/" + name + b".txt"))).write_text("a caption")
    sources = {"llava": LlavaSource(path=tmp_path / "d.jsonl"), "folder": ImageFolderSource(path=folder)}
    counts = curate(Curation(sources, [], tmp_path / "out", "s" * 64))["counts"]
    assert [(c["read"], c["kept"], c["quarantined"]) for c in counts.values()] == [(2, 1, 1), (2, 1, 1)]
    reasons = [json.loads(line)["reason"] for n in sources
               for line in (tmp_path / "out" / n / "rejects.jsonl").read_text().splitlines()]
    assert "unpaired surrogate" in reasons[0] and "cannot be written to a shard" in reasons[1]
