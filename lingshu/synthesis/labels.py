"""Where a sample's labels (modality, anatomy, abnormality) come from.

A source states them in `meta["labels"]`; `Sample.modality` counts as the modality label. Demo
samples that carry only `meta["image_index"]` are labelled from the demo generator itself.
"""

from __future__ import annotations

from collections.abc import Callable

from lingshu.data import demo
from lingshu.schema import Sample

LABEL_TYPES = ("modality", "anatomy", "abnormality")


def demo_abnormality(lab: demo.Labels) -> str:
    if not lab.lesion:
        return "no focal lesion"
    tone = "bright" if lab.bright else "dark"
    return f"a {lab.size} {tone} lesion on the {lab.side}"


def _demo_labels(meta: dict, seed: int) -> dict[str, str]:
    if "image_index" not in meta:
        return {}
    lab = demo.labels_for(int(meta["image_index"]), seed, meta.get("split", "train"))
    return {"modality": demo.MODALITIES[lab.modality], "abnormality": demo_abnormality(lab)}


# Sources whose samples are labelled by their generator (from meta, with the generator's seed).
GENERATED_LABELS: dict[str, Callable[[dict, int], dict[str, str]]] = {"demo": _demo_labels}


def sample_labels(sample: Sample, demo_seed: int = 0) -> dict[str, str]:
    labels: dict[str, str] = {}
    if sample.modality:
        labels["modality"] = sample.modality
    meta = sample.meta or {}
    if sample.source in GENERATED_LABELS:
        labels.update(GENERATED_LABELS[sample.source](meta, demo_seed))
    labels.update({k: str(v) for k, v in (meta.get("labels") or {}).items() if v not in (None, "")})
    return labels
