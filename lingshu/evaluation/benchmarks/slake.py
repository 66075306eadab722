"""SLAKE test, English and Chinese (2,094). The release `test.json` (`qid`, `img_name`, `question`,
`answer`, `answer_type` OPEN/CLOSED, `q_lang` en/zh, `modality`, `content_type`, images in `imgs/`),
or a parquet with the same columns plus an `image` struct."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from lingshu.evaluation.benchmarks.base import Benchmark, answer_kind, image_value, read_records
from lingshu.schema import BenchmarkItem


class SLAKE(Benchmark):
    name = "slake"
    example_path = "/data/SLAKE"
    expected: ClassVar[dict[str, int]] = {"test": 2094}

    def __init__(self, path: str | None = None, split: str | None = None, languages: list[str] | None = None,
                 max_images: int | None = None):
        super().__init__(path, split, max_images)
        self.languages = set(languages or ("en", "zh"))

    def load(self) -> Iterator[BenchmarkItem]:
        files = self.find(f"{self.split}.json", f"**/{self.split}.json", f"**/{self.split}-*.parquet")
        for f in files:
            for rec in read_records(f):
                lang = str(rec.get("q_lang", "en"))
                if lang not in self.languages:
                    continue
                answer = str(rec["answer"]).strip()
                img = image_value(rec.get("image")) or self.image(rec["img_name"], "imgs")
                yield BenchmarkItem(
                    id=str(rec["qid"]), benchmark=self.name, question=str(rec["question"]).strip(), answer=answer,
                    answer_type=answer_kind(answer, rec.get("answer_type")), images=[img],
                    categories={"modality": str(rec.get("modality", "")), "language": lang,
                                "question_type": str(rec.get("content_type", ""))},
                    meta={"answer_type": str(rec.get("answer_type", ""))})  # OPEN/CLOSED picks MedEvalKit's prompt
