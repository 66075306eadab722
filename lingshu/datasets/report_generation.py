"""What the report-generation benchmarks share (MIMIC-CXR, IU-Xray, CheXpert Plus): MedEvalKit's
JSON list of {`id`, `image`: [paths relative to the JSON's folder or `images/`], `findings`,
`impression`}. Studies whose findings and impression are both empty are dropped. The reference is
`Findings: {findings} Impression: {impression}`, as MedEvalKit writes it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lingshu.data.sources.base import get_text
from lingshu.datasets.base import Benchmark, Fields
from lingshu.schema import BenchmarkItem


def reference_report(findings: str | None, impression: str | None) -> str:
    return f"Findings: {findings or ''} Impression: {impression or ''}"


def parse(rec: Any) -> Fields | None:
    """A study as its reference report and image paths; None when it has neither findings nor
    impression (evaluation drops it, as MedEvalKit does; training quarantines it)."""
    findings = get_text(rec, "findings", required=False)
    impression = get_text(rec, "impression", required=False)
    if not findings and not impression:
        return None
    paths = rec.get("image") or []
    return Fields("", reference_report(findings, impression), "report",
                  images=[paths] if isinstance(paths, str) else list(paths))


class ReportBenchmark(Benchmark):
    has_reports = True
    max_images = 6  # every view of a study, in order

    def load(self) -> Iterator[BenchmarkItem]:
        path = self.find(f"{self.split}.json", f"**/{self.split}.json", "*.json")[0]
        for row, rec in self.records(path):
            f = self.parsed(parse, path, row, rec)
            if f is None:
                continue
            yield BenchmarkItem(
                id=str(rec.get("id") or self.item_id(row)), benchmark=self.name, question=f.question,
                answer=f.answer, answer_type=f.answer_type, images=self.images(f, str(path.parent), "images"),
                categories={"language": "en"}, meta={"findings": get_text(rec, "findings", required=False),
                                                     "impression": get_text(rec, "impression", required=False)})
