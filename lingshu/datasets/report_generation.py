"""What the report-generation benchmarks share (MIMIC-CXR, IU-Xray, CheXpert Plus): MedEvalKit's
JSON list of {`id`, `image`: [paths relative to the JSON's folder or `images/`], `findings`,
`impression`}. Studies whose findings and impression are both empty are dropped. The reference is
`Findings: {findings} Impression: {impression}`, as MedEvalKit writes it."""

from __future__ import annotations

from collections.abc import Iterator

from lingshu.datasets.base import Benchmark
from lingshu.schema import BenchmarkItem


def reference_report(findings: str | None, impression: str | None) -> str:
    return f"Findings: {findings or ''} Impression: {impression or ''}"


class ReportBenchmark(Benchmark):
    has_reports = True
    max_images = 6  # every view of a study, in order

    def load(self) -> Iterator[BenchmarkItem]:
        path = self.find(f"{self.split}.json", f"**/{self.split}.json", "*.json")[0]
        for row, rec in self.records(path):
            findings = str(rec.get("findings") or "").strip()
            impression = str(rec.get("impression") or "").strip()
            if not findings and not impression:
                continue
            paths = rec.get("image") or []
            paths = [paths] if isinstance(paths, str) else paths
            yield BenchmarkItem(
                id=str(rec.get("id") or self.item_id(row)), benchmark=self.name, question="",
                answer=reference_report(findings, impression), answer_type="report",
                images=[self.image(p, str(path.parent), "images") for p in paths],
                categories={"language": "en"}, meta={"findings": findings, "impression": impression})
