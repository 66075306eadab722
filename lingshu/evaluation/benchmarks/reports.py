"""Report generation on MIMIC-CXR (2,195), IU-Xray (296) and CheXpert Plus (234): a JSON list of
{`id`, `image`: [paths relative to the JSON's folder or `images/`], `findings`, `impression`}.
Studies whose findings and impression are both empty are dropped. The reference is
`Findings: {findings} Impression: {impression}`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from lingshu.evaluation.benchmarks.base import Benchmark, read_json
from lingshu.evaluation.report_metrics import reference_report
from lingshu.schema import BenchmarkItem


class ReportBenchmark(Benchmark):
    has_reports = True
    max_images = 6  # every view of a study, in order

    def load(self) -> Iterator[BenchmarkItem]:
        f = self.find(f"{self.split}.json", f"**/{self.split}.json", "*.json")[0]
        for row, rec in enumerate(read_json(f)):
            findings = str(rec.get("findings") or "").strip()
            impression = str(rec.get("impression") or "").strip()
            if not findings and not impression:
                continue
            paths = rec.get("image") or []
            paths = [paths] if isinstance(paths, str) else paths
            yield BenchmarkItem(
                id=str(rec.get("id") or self.item_id(row)), benchmark=self.name, question="",
                answer=reference_report(findings, impression), answer_type="report",
                images=[self.image(p, str(f.parent), "images") for p in paths],
                categories={"language": "en"}, meta={"findings": findings, "impression": impression})


class MIMICCXR(ReportBenchmark):
    name = "mimic_cxr"
    example_path = "/data/mimic_cxr"
    expected: ClassVar[dict[str, int]] = {"test": 2195}


class IUXray(ReportBenchmark):
    name = "iu_xray"
    example_path = "/data/iu_xray"
    expected: ClassVar[dict[str, int]] = {"test": 296}


class CheXpertPlus(ReportBenchmark):
    name = "chexpert_plus"
    example_path = "/data/chexpert_plus"
    expected: ClassVar[dict[str, int]] = {"test": 234}
