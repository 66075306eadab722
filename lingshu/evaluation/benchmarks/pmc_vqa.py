"""PMC-VQA v2 test (33,430): `test_2.csv` with `index`, `Figure_path`, `Caption`, `Question`,
`Choice A`..`Choice D`, `Answer` (a letter) and `split`; images under `figures/` or `images/`.
Choice strings may carry their own letter (`A:MRI`), which is stripped from the options; the
`medevalkit` profile shows and scores the CSV's strings unchanged, as MedEvalKit does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from lingshu.evaluation.benchmarks.base import Benchmark, letter_of, read_records
from lingshu.schema import BenchmarkItem

_OWN_LETTER = re.compile(r"^\s*[A-D]\s*[:.)]\s*")


def strip_letter(choice: str) -> str:
    return _OWN_LETTER.sub("", str(choice)).strip()


class PMCVQA(Benchmark):
    name = "pmc_vqa"
    example_path = "/data/PMC-VQA"
    expected: ClassVar[dict[str, int]] = {"test": 33430}

    def load(self) -> Iterator[BenchmarkItem]:
        for row, rec in enumerate(read_records(self.find("test_2.csv", "**/test_2.csv")[0])):
            raw = [str(rec[f"Choice {c}"]) for c in "ABCD" if str(rec.get(f"Choice {c}") or "").strip()]
            options = [strip_letter(c) for c in raw]
            answer = str(rec.get("Answer_label") or rec["Answer"]).strip()
            answer = letter_of(answer if len(answer) == 1 else strip_letter(answer), options)
            rid = str(rec.get("index") or "").strip()
            yield BenchmarkItem(
                id=rid if rid else self.item_id(row), benchmark=self.name, question=str(rec["Question"]).strip(),
                answer=answer, answer_type="mcq", options=options,
                images=[self.image(str(rec["Figure_path"]).strip(), "figures", "images")],
                categories={"language": "en"}, meta={"caption": rec.get("Caption"), "choices": raw})  # as the CSV writes them (medevalkit)
