"""MIMIC-CXR: chest X-ray reports. Training reads R2Gen's `annotation.json` ({"train": [{"id",
"report", "image_path": [...]}], "val", "test"}, images under `images/`); as captions (stage 2) the
report is the caption. Evaluation reads MedEvalKit's test JSON (2,195 studies; see
`report_generation`)."""

from __future__ import annotations

from lingshu.data.sources.radiology import R2GenSource
from lingshu.datasets.base import LINGSHU, Facts
from lingshu.datasets.report_generation import ReportBenchmark

FACTS = (Facts("mimic_cxr", "MIMIC-CXR", {"test": 2195}, "reports", {LINGSHU: (30.8, 109.4, 52.1, 30.0, 69.2)}),)


class MIMICCXRSource(R2GenSource):
    default_name = "mimic_cxr"


class MIMICCXR(ReportBenchmark):
    name = "mimic_cxr"
    facts = FACTS[0]
    example_path = "/data/mimic_cxr"
