"""IU-Xray report generation: MedEvalKit's test JSON (296 studies; see `report_generation`)."""

from __future__ import annotations

from lingshu.datasets.base import LINGSHU, Facts
from lingshu.datasets.report_generation import ReportBenchmark

FACTS = (Facts("iu_xray", "IU-Xray", {"test": 296}, "reports", {LINGSHU: (41.2, 180.7, 57.6, 48.4, 108.1)}),)


class IUXray(ReportBenchmark):
    name = "iu_xray"
    facts = FACTS[0]
    example_path = "/data/iu_xray"
