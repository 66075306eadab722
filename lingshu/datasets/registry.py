"""Every dataset module's facts, in the paper's column order: what the summary tables read."""

from __future__ import annotations

from lingshu.datasets import (chexpert_plus, demo, iu_xray, medbullets, medmcqa, medqa, medxpertqa, mimic_cxr,
                              mmlu_med, mmmu_med, omnimedvqa, path_vqa, pmc_vqa, pubmedqa, slake, supergpqa_med,
                              vqa_rad)
from lingshu.datasets.base import Facts

_MODULES = (mmmu_med, vqa_rad, slake, path_vqa, pmc_vqa, omnimedvqa, mmlu_med, pubmedqa, medmcqa, medqa, medbullets,
            medxpertqa, supergpqa_med, mimic_cxr, iu_xray, chexpert_plus, demo)
FACTS: dict[str, Facts] = {f.name: f for m in _MODULES for f in m.FACTS}


def table(kind: str) -> list[Facts]:
    """The benchmarks of one of the paper's summary tables, in its column order."""
    return [f for f in FACTS.values() if f.table == kind]


def published_rows() -> dict[str, dict[str, object]]:
    """The paper's rows: row label -> {benchmark: number(s)}, rows in order of first mention."""
    rows: dict[str, dict[str, object]] = {}
    for f in FACTS.values():
        for label, value in f.paper.items():
            rows.setdefault(label, {})[f.name] = value
    return rows
