"""VQA-RAD test (451). Reads the original release JSON, whose test questions are those with a
`phrase_type` starting with `test` (images in `VQA_RAD Image Folder/`), or the Hugging Face
parquet (`image`, `question`, `answer`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from lingshu.evaluation.benchmarks.base import Benchmark, answer_kind, image_value, read_json, read_parquet
from lingshu.schema import BenchmarkItem


class VQARAD(Benchmark):
    name = "vqa_rad"
    example_path = "/data/VQA_RAD"
    expected: ClassVar[dict[str, int]] = {"test": 451}

    def load(self) -> Iterator[BenchmarkItem]:
        files = self.find("*.json", f"**/{self.split}-*.parquet", f"**/*{self.split}*.parquet")
        if files[0].suffix == ".parquet":
            yield from self._parquet(files)
        else:
            yield from self._release(files[0])

    def _release(self, path) -> Iterator[BenchmarkItem]:
        for rec in read_json(path):
            if not str(rec.get("phrase_type", "")).startswith("test"):
                continue
            answer = str(rec["answer"]).strip()
            yield BenchmarkItem(
                id=str(rec["qid"]), benchmark=self.name, question=rec["question"].strip(), answer=answer,
                answer_type=answer_kind(answer, rec.get("answer_type")),
                images=[self.image(rec["image_name"], "VQA_RAD Image Folder", "images")],
                categories={"modality": str(rec.get("image_organ", "")).strip().lower(),
                            "question_type": str(rec.get("question_type", "")).strip().lower(), "language": "en"})

    def _parquet(self, files) -> Iterator[BenchmarkItem]:
        row = 0
        for f in files:
            for rec in read_parquet(f):
                answer = str(rec["answer"]).strip()
                kind = answer_kind(answer)
                yield BenchmarkItem(id=self.item_id(row), benchmark=self.name, question=rec["question"].strip(),
                                    answer=answer, answer_type=kind, images=[image_value(rec["image"])],
                                    categories={"question_type": kind, "language": "en"})
                row += 1
