"""PathVQA: pathology VQA, one module for training and evaluation.

Hugging Face parquet (`image` {bytes, path}, `question`, `answer`), or the original release
(`qas/<split>/<split>_qa.pkl`: a list of {"image", "question", "answer"}, images
`images/<split>/<image>.jpg`). Neither labels answer types: yes/no answers are the closed ones
(test: 6,719 = closed 3,362 + open 3,357).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lingshu.data.sources.base import Row, get, get_text, yes_no_kind
from lingshu.data.sources.parquet import ParquetSource
from lingshu.datasets.base import LINGSHU, QWEN, Benchmark, Facts, Fields, qa_item, training_sample
from lingshu.schema import BenchmarkItem, Sample

FACTS = (Facts("path_vqa", "PathVQA", {"test": 6719}, "multimodal", {LINGSHU: 61.9, QWEN: 44.1}),)


def parse(rec: Any, question: str = "question", answer: str = "answer", image: str = "image") -> Fields:
    """A row; the column names are the hub's unless a source is configured otherwise."""
    text = get_text(rec, answer)
    return Fields(get_text(rec, question), text, yes_no_kind(text), images=[get(rec, image)], image_field=image)


class PlainUnpickler(pickle.Unpickler):
    """Reads pickles of plain data (dicts, lists, strings, numbers) and refuses any class or
    function, so a tampered file cannot run code."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refusing {module}.{name}: the PathVQA release holds plain data only")


class PathVQASource(ParquetSource):
    """The hub parquet, with ParquetSource's column knobs and row-group partitions."""

    default_name = "path_vqa"

    def to_samples(self, row: Row) -> list[Sample]:
        f = parse(row.data, self.question_column, self.answer_column, self.image_column)
        if self.answer_type not in (None, "auto"):  # the config's answer_type, when set, wins
            f.answer_type = self.answer_type
        images = self.images(f.images[0])
        return [training_sample(self, row, f, images, self.sample_kind("vqa"))]


class PathVQA(Benchmark):
    name = "path_vqa"
    facts = FACTS[0]
    example_path = "/data/PathVQA"

    def load(self) -> Iterator[BenchmarkItem]:
        files = self.find(f"**/{self.split}-*.parquet", f"**/*{self.split}*.parquet", f"**/{self.split}_qa.pkl")
        rows = self._release(files[0]) if files[0].suffix == ".pkl" else (
            (path, row, rec) for path in files for row, rec in self.records(path))
        for n, (path, row, rec) in enumerate(rows):
            f = self.parsed(parse, path, row, rec)
            images = self.images(f, f"images/{self.split}", self.split)
            yield qa_item(self, self.item_id(n), f, images, categories={"question_type": f.answer_type, "language": "en"})

    def _release(self, pkl: Path) -> Iterator[tuple[Path, int, dict]]:
        with pkl.open("rb") as fh:  # the official release is a pickle of plain dicts
            records = PlainUnpickler(fh).load()
        for row, rec in enumerate(records):
            yield pkl, row, dict(rec, image=f"{rec['image']}.jpg") if isinstance(rec, dict) else rec
