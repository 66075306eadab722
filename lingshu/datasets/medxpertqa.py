"""MedXpertQA MM (2,000; multi-image, options A-E) and Text (2,450; options A-J): the release
JSONL (`MM/test.jsonl`, `Text/test.jsonl`) of {`id`, `question` (ending in "Answer Choices: ..."),
`options` {letter: text}, `label`, `images` [file names under `images/`], `medical_task`,
`body_system`, `question_type`}."""

from __future__ import annotations

import re
from collections.abc import Iterator

from lingshu.datasets.base import LINGSHU, QWEN, Benchmark, Facts
from lingshu.schema import BenchmarkItem

FACTS = (Facts("medxpertqa_mm", "MedXpertQA-MM", {"test": 2000}, "multimodal", {LINGSHU: 26.7, QWEN: 22.3}),
         Facts("medxpertqa_text", "MedXpertQA-Text", {"test": 2450}, "text", {LINGSHU: 16.5}))
_CHOICES = re.compile(r"\s*Answer Choices:.*$", re.DOTALL)


class _MedXpertQA(Benchmark):
    subset = "MM"
    example_path = "/data/MedXpertQA"

    def load(self) -> Iterator[BenchmarkItem]:
        f = self.find(f"{self.subset}/{self.split}.jsonl", f"**/{self.subset}/{self.split}.jsonl")[0]
        root = str(f.parent.parent)  # images/ sits beside MM/ and Text/
        for _, rec in self.records(f):
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
    facts = FACTS[0]
    max_images = 6


class MedXpertQAText(_MedXpertQA):
    name = "medxpertqa_text"
    subset = "Text"
    facts = FACTS[1]
