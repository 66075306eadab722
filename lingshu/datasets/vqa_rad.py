"""VQA-RAD: radiology VQA, one module for training and evaluation.

Release (OSF): `VQA_RAD Dataset Public.json` (qid, image_name, question, answer, answer_type
CLOSED/OPEN, phrase_type, question_type, image_organ) with images in `VQA_RAD Image Folder/`; the
test questions (451: closed 251 + open 200) are those whose phrase_type starts with `test`.
Hugging Face copy: parquet (`image`, `question`, `answer`) without answer types, where yes/no
answers are the closed ones. An answer_type other than CLOSED/OPEN is an error in both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lingshu.data.sources.base import Row, Source, first_existing, get, get_text, yes_no_kind
from lingshu.data.sources.records import read_records
from lingshu.datasets.base import LINGSHU, QWEN, Benchmark, Facts, Fields, closed_or_open, qa_item, training_sample
from lingshu.schema import BenchmarkItem, Sample

FACTS = (Facts("vqa_rad", "VQA-RAD", {"test": 451}, "multimodal", {LINGSHU: 67.9, QWEN: 64.5}),)
ANNOTATION, IMAGES = "VQA_RAD Dataset Public.json", "VQA_RAD Image Folder"


def parse(rec: Any, labelled: bool = True) -> Fields:
    """A release row (`labelled`: it carries its CLOSED/OPEN answer_type) or a hub row (it does not)."""
    answer = get_text(rec, "answer")
    kind = closed_or_open(get(rec, "answer_type")) if labelled else yes_no_kind(answer)
    image = get(rec, "image_name") if labelled else get(rec, "image")
    return Fields(get_text(rec, "question"), answer, kind, images=[image],
                  image_field="image_name" if labelled else "image")


def is_test(rec: Any) -> bool:
    return isinstance(rec, dict) and str(rec.get("phrase_type", "")).startswith("test")


class VQARADSource(Source):
    """The OSF release (CLOSED/OPEN labels), or the hub copy `task=acquire` fetches
    (`data/<split>-*.parquet`, where yes/no answers are the closed ones)."""

    default_name = "vqa_rad"

    def __init__(self, path: Any = None, split: str = "train", **kw):
        super().__init__(path, split=split, **kw)
        if split not in ("train", "test"):
            raise ValueError(f"source {self.name}: split must be train or test, got {split!r}")
        released = self.path.is_file() or (self.base_dir / ANNOTATION).exists()
        self.hub_files = [] if released else sorted(self.base_dir.glob(f"**/{split}-*.parquet"))
        if self.hub_files:
            return
        self.annotation = self.path if self.path.is_file() else first_existing(self.name, self.base_dir, [ANNOTATION], "VQA-RAD")
        if kw.get("image_root") is None:  # the release layout decides
            self.image_root = first_existing(self.name, self.base_dir, [IMAGES, "images"], "VQA-RAD")

    def rows(self) -> Iterator[Row]:
        if self.hub_files:
            for file in self.hub_files:
                yield from (Row(str(file), line, rec, None) for line, rec in read_records(file, self.max_record_bytes))
            return
        for line, rec in read_records(self.annotation, self.max_record_bytes):
            if is_test(rec) == (self.split == "test"):
                yield Row(str(self.annotation), line, rec, str(rec.get("qid")) if isinstance(rec, dict) else None)

    def to_samples(self, row: Row) -> list[Sample]:
        if self.hub_files:
            f = parse(row.data, labelled=False)
            return [training_sample(self, row, f, [self.inline_image(f.images[0])], "vqa", "radiology")]
        f, rec = parse(row.data), row.data
        image = self.image_bytes(str(f.images[0]), f.image_field)
        return [training_sample(self, row, f, [image], "vqa", "radiology", image_name=rec.get("image_name"),
                                question_type=rec.get("question_type"), image_organ=rec.get("image_organ"),
                                phrase_type=rec.get("phrase_type"))]


class VQARAD(Benchmark):
    name = "vqa_rad"
    facts = FACTS[0]
    example_path = "/data/VQA_RAD"

    def load(self) -> Iterator[BenchmarkItem]:
        files = self.find("*.json", f"**/{self.split}-*.parquet", f"**/*{self.split}*.parquet")
        if files[0].suffix == ".parquet":
            yield from self._hub(files)
        else:
            yield from self._release(files[0])

    def _release(self, path: Path) -> Iterator[BenchmarkItem]:
        for row, rec in self.records(path):
            if not is_test(rec):
                continue
            f = self.parsed(parse, path, row, rec)
            yield qa_item(self, str(rec["qid"]), f, self.images(f, IMAGES, "images"),
                          categories={"modality": str(rec.get("image_organ", "")).strip().lower(),
                                      "question_type": str(rec.get("question_type", "")).strip().lower(),
                                      "language": "en"})

    def _hub(self, files: list[Path]) -> Iterator[BenchmarkItem]:
        n = 0
        for path in files:
            for row, rec in self.records(path):
                f = self.parsed(parse, path, row, rec, False)
                yield qa_item(self, self.item_id(n), f, self.images(f),
                              categories={"question_type": f.answer_type, "language": "en"})
                n += 1
