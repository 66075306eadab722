"""CheXpert Plus report generation: MedEvalKit's test JSON (234 studies; see `report_generation`)."""

from __future__ import annotations

from lingshu.datasets.base import LINGSHU, Facts
from lingshu.datasets.report_generation import ReportBenchmark

FACTS = (Facts("chexpert_plus", "CheXpert Plus", {"test": 234}, "reports", {LINGSHU: (26.5, 79.0, 45.4, 26.8, 47.3)}),)


class CheXpertPlus(ReportBenchmark):
    name = "chexpert_plus"
    facts = FACTS[0]
    example_path = "/data/chexpert_plus"
