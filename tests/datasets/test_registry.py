"""Every configured benchmark has its facts in its dataset module, and the registry holds them all."""

from pathlib import Path

import yaml
from hydra.utils import get_class

from lingshu.datasets.registry import FACTS, published_rows, table

CONF = Path(__file__).resolve().parents[2] / "conf" / "benchmark"


def test_each_configured_benchmark_has_facts_in_the_registry():
    names = set()
    for f in sorted(CONF.glob("*.yaml")):
        node = yaml.safe_load(f.read_text())
        if not isinstance(node, dict) or "_target_" not in node:
            continue  # a suite (all, text, ...) selects others
        names.add(f.stem)
        facts = get_class(node["_target_"]).facts
        if facts is not None:  # None: MedBullets, which picks its facts by split
            assert facts is FACTS[f.stem]
    assert names == set(FACTS)


def test_tables_and_published_rows_come_from_the_facts():
    assert [f.title for f in table("reports")] == ["MIMIC-CXR", "IU-Xray", "CheXpert Plus"]
    rows = published_rows()
    assert list(rows) == ["Lingshu-7B (paper)", "Qwen2.5-VL-7B (paper)"]
    assert rows["Lingshu-7B (paper)"]["vqa_rad"] == 67.9
