"""MedXpertQA MM (2,000; multi-image, options A-E) and Text (2,450; options A-J): the release
JSONL (`MM/test.jsonl`, `Text/test.jsonl`) of {`id`, `question` (ending in "Answer Choices: ..."),
`options` {letter: text}, `label`, `images` [file names under `images/`], `medical_task`,
`body_system`, `question_type`}."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from lingshu.evaluation.benchmarks.base import Benchmark, read_records
from lingshu.schema import BenchmarkItem

_CHOICES = re.compile(r"\s*Answer Choices:.*$", re.DOTALL)


class _MedXpertQA(Benchmark):
    subset = "MM"
    example_path = "/data/MedXpertQA"

    def load(self) -> Iterator[BenchmarkItem]:
        f = self.find(f"{self.subset}/{self.split}.jsonl", f"**/{self.subset}/{self.split}.jsonl")[0]
        root = str(f.parent.parent)  # images/ sits beside MM/ and Text/
        for rec in read_records(f):
            opts = rec["options"]
            letters = sorted(opts)
            images = [self.image(name, f"{root}/images", "images") for name in rec.get("images") or []]
            yield BenchmarkItem(
                id=str(rec["id"]), benchmark=self.name, question=_CHOICES.sub("", str(rec["question"])).strip(),
                answer=str(rec["label"]).strip().upper(), answer_type="mcq",
                options=[str(opts[k]).strip() for k in letters], images=images,
                meta={"question_full": str(rec["question"])},  # MedEvalKit keeps "Answer Choices: ..."
                categories={"question_type": str(rec.get("question_type", "")),
                            "task": str(rec.get("medical_task", "")), "body_system": str(rec.get("body_system", "")),
                            "language": "en"})


class MedXpertQAMM(_MedXpertQA):
    name = "medxpertqa_mm"
    subset = "MM"
    expected: ClassVar[dict[str, int]] = {"test": 2000}
    max_images = 6


class MedXpertQAText(_MedXpertQA):
    name = "medxpertqa_text"
    subset = "Text"
    expected: ClassVar[dict[str, int]] = {"test": 2450}
