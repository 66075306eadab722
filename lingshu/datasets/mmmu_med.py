"""MMMU, the five Health & Medicine subjects (validation 150 / test), from the Hugging Face
folder `<Subject>/<split>-*.parquet`: `id`, `question`, `options` (a Python list literal),
`image_1`..`image_7`, `answer`, `question_type`, `subfield`, `img_type`. Every image of a
question is kept, in order (MedEvalKit passed only the first)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from lingshu.data.sources.base import image_value
from lingshu.datasets.base import LINGSHU, QWEN, Benchmark, BenchmarkPathError, Facts, letter_of
from lingshu.schema import BenchmarkItem

FACTS = (Facts("mmmu_med", "MMMU-Med", {"validation": 150, "test": 1752}, "multimodal", {LINGSHU: 54.0, QWEN: 50.6}),)
SUBJECTS = ("Basic_Medical_Science", "Clinical_Medicine", "Diagnostics_and_Laboratory_Medicine", "Pharmacy",
            "Public_Health")


class MMMUMed(Benchmark):
    name = "mmmu_med"
    example_path = "/data/MMMU"
    default_split = "validation"
    facts = FACTS[0]
    max_images = 6

    def load(self) -> Iterator[BenchmarkItem]:
        if self.path.is_file():
            files = [self.path]
        else:
            files = [f for s in SUBJECTS for f in sorted(self.path.glob(f"{s}/{self.split}-*.parquet"))]
            if not files:
                raise BenchmarkPathError(f"benchmark {self.name}: no <Subject>/{self.split}-*.parquet under {self.path}; "
                                         f"set benchmark.{self.name}.path={self.example_path}")
        for f in files:
            for row, rec in self.records(f):
                raw = rec.get("options") or "[]"
                options = [str(o) for o in (ast.literal_eval(raw) if isinstance(raw, str) else raw)]
                answer = str(rec["answer"]).strip()
                if answer == "?":
                    raise ValueError(f"benchmark {self.name}: {rec['id']} has no public answer (the MMMU test split "
                                     f"is scored by its server); use benchmark.{self.name}.split=validation")
                mcq = bool(options) and rec.get("question_type", "multiple-choice") == "multiple-choice"
                images = [b for k in range(1, 8) if (b := image_value(rec.get(f"image_{k}")))]
                subject = str(rec["id"]).split("_", 1)[-1].rsplit("_", 1)[0]
                yield BenchmarkItem(
                    id=str(rec["id"]), benchmark=self.name, question=str(rec["question"]).strip(),
                    answer=self.parsed(letter_of, f, row, answer, options) if mcq else answer, answer_type="mcq" if mcq else "open",
                    options=options if mcq else None, images=images,
                    categories={"subject": subject, "question_type": str(rec.get("question_type", "")),
                                "modality": str(rec.get("img_type", "")), "language": "en"})
