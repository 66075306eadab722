"""OmniMedVQA open-access (88,996): `QA_information/Open-access/*.json`, each a list of
{`question_id`, `question`, `gt_answer` (option text), `option_A`..`option_D`, `image_path`
(relative to the release root), `question_type`, `modality_type`, `dataset`}. A row whose answer
matches no option is kept with the answer text (strict: wrong; medevalkit: as MedEvalKit scores it)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from lingshu.datasets.base import LINGSHU, QWEN, Benchmark, Facts, SourceError, letter_of
from lingshu.schema import BenchmarkItem

log = logging.getLogger(__name__)
FACTS = (Facts("omnimedvqa", "OmniMedVQA", {"open_access": 88996}, "multimodal", {LINGSHU: 82.9, QWEN: 63.6}),)
SPLIT_DIRS = {"open_access": "Open-access", "restricted_access": "Restricted-access"}


class OmniMedVQA(Benchmark):
    name = "omnimedvqa"
    example_path = "/data/OmniMedVQA"
    default_split = "open_access"
    facts = FACTS[0]

    def load(self) -> Iterator[BenchmarkItem]:
        sub = SPLIT_DIRS.get(self.split, self.split)
        for f in self.find(f"QA_information/{sub}/*.json", f"**/{sub}/*.json", "*.json"):
            # image_path is relative to the release root (the folder holding QA_information/)
            release = str(f.parents[2]) if f.parent.parent.name == "QA_information" else "."
            for _, rec in self.records(f):
                options = [str(rec[f"option_{c}"]).strip() for c in "ABCD" if rec.get(f"option_{c}") not in (None, "")]
                try:
                    answer = letter_of(str(rec["gt_answer"]), options)
                except SourceError:  # a handful of released rows: kept (as MedEvalKit keeps them), never right
                    log.warning("omnimedvqa: %s: answer %r matches no option; kept and scored wrong",
                                rec.get("question_id"), rec["gt_answer"])
                    answer = str(rec["gt_answer"])
                yield BenchmarkItem(
                    id=str(rec["question_id"]), benchmark=self.name, question=str(rec["question"]).strip(),
                    answer=answer, answer_type="mcq", options=options,
                    images=[self.image(rec["image_path"], release)],
                    categories={"modality": str(rec.get("modality_type", "")),
                                "question_type": str(rec.get("question_type", "")), "language": "en",
                                "dataset": str(rec.get("dataset", ""))})
