"""PathVQA test (6,719: yes/no questions are the closed ones). Hugging Face parquet (`image`,
`question`, `answer`) or the original release (`qas/test/test_qa.pkl`: a list of
{"image", "question", "answer"}, images `images/test/<image>.jpg`)."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import ClassVar

from lingshu.evaluation.benchmarks.base import Benchmark, answer_kind, image_value, read_parquet
from lingshu.schema import BenchmarkItem


class PlainUnpickler(pickle.Unpickler):
    """Reads pickles of plain data (dicts, lists, strings, numbers) and refuses any class or
    function, so a tampered file cannot run code."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refusing {module}.{name}: the PathVQA release holds plain data only")


class PathVQA(Benchmark):
    name = "path_vqa"
    example_path = "/data/PathVQA"
    expected: ClassVar[dict[str, int]] = {"test": 6719}

    def load(self) -> Iterator[BenchmarkItem]:
        files = self.find(f"**/{self.split}-*.parquet", f"**/*{self.split}*.parquet", f"**/{self.split}_qa.pkl")
        if files[0].suffix == ".pkl":
            rows = self._release(files[0])
        else:
            rows = (dict(r, image_bytes=image_value(r["image"])) for f in files for r in read_parquet(f))
        for row, rec in enumerate(rows):
            answer = str(rec["answer"]).strip()
            kind = answer_kind(answer)
            yield BenchmarkItem(id=self.item_id(row), benchmark=self.name, question=str(rec["question"]).strip(),
                                answer=answer, answer_type=kind, images=[rec["image_bytes"]],
                                categories={"question_type": kind, "language": "en"})

    def _release(self, pkl) -> Iterator[dict]:
        with pkl.open("rb") as fh:  # the official release is a pickle of plain dicts
            records = PlainUnpickler(fh).load()
        for rec in records:
            yield dict(rec, image_bytes=self.image(f"{rec['image']}.jpg", f"images/{self.split}", self.split))
