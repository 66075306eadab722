"""Summaries across models: summary.json, summary.md (the paper's table layout with the published
Lingshu-7B and Qwen2.5-VL-7B rows beside the user's) and summary.png (a bar chart)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# (column title, benchmark config name) in the paper's order.
MULTIMODAL = [("MMMU-Med", "mmmu_med"), ("VQA-RAD", "vqa_rad"), ("SLAKE", "slake"), ("PathVQA", "path_vqa"),
              ("PMC-VQA", "pmc_vqa"), ("OmniMedVQA", "omnimedvqa"), ("MedXpertQA-MM", "medxpertqa_mm")]
TEXT = [("MMLU-Med", "mmlu_med"), ("PubMedQA", "pubmedqa"), ("MedMCQA", "medmcqa"), ("MedQA", "medqa"),
        ("MedBullets", "medbullets_op5"), ("MedXpertQA-Text", "medxpertqa_text"), ("SuperGPQA-Med", "supergpqa_med")]
REPORTS = [("MIMIC-CXR", "mimic_cxr"), ("IU-Xray", "iu_xray"), ("CheXpert Plus", "chexpert_plus")]
REPORT_METRICS = [("ROUGE-L", "rouge_l"), ("CIDEr", "cider"), ("RaTE", "ratescore"), ("Semb", "sembscore"),
                  ("1/RadCliQ", "radcliq_inv")]
# LINGSHU.md section 7 (paper v4), accuracy %; reports: ROUGE-L, CIDEr, RaTE, Semb, 1/RadCliQ.
PUBLISHED: dict[str, dict[str, Any]] = {
    "Lingshu-7B (paper)": {
        "mmmu_med": 54.0, "vqa_rad": 67.9, "slake": 83.1, "path_vqa": 61.9, "pmc_vqa": 56.3, "omnimedvqa": 82.9,
        "medxpertqa_mm": 26.7, "mmlu_med": 74.5, "pubmedqa": 76.6, "medmcqa": 55.9, "medqa": 63.3,
        "medbullets_op5": 56.2, "medxpertqa_text": 16.5, "supergpqa_med": 26.3,
        "mimic_cxr": (30.8, 109.4, 52.1, 30.0, 69.2), "iu_xray": (41.2, 180.7, 57.6, 48.4, 108.1),
        "chexpert_plus": (26.5, 79.0, 45.4, 26.8, 47.3)},
    "Qwen2.5-VL-7B (paper)": {
        "mmmu_med": 50.6, "vqa_rad": 64.5, "slake": 67.2, "path_vqa": 44.1, "pmc_vqa": 51.9, "omnimedvqa": 63.6,
        "medxpertqa_mm": 22.3},
}
PAPER_NAMES = {b for _, b in MULTIMODAL + TEXT + REPORTS}


def _fmt(x: Any) -> str:
    return "-" if x is None else f"{x:.1f}"


def _avg(values: list[float | None]) -> float | None:
    return sum(values) / len(values) if values and all(v is not None for v in values) else None


def _qa_table(title: str, cols: list[tuple[str, str]], results: Mapping[str, Mapping[str, dict]]) -> list[str]:
    lines = [f"## {title} (accuracy %)", "", "| model | " + " | ".join(c for c, _ in cols) + " | Avg. |",
             "|---" * (len(cols) + 2) + "|"]
    for label, pub in PUBLISHED.items():
        vals = [pub.get(b) for _, b in cols]
        if any(v is not None for v in vals):
            lines.append(f"| {label} | " + " | ".join(map(_fmt, vals)) + f" | {_fmt(_avg(vals))} |")
    for label, res in results.items():
        vals = [res.get(b, {}).get("accuracy") for _, b in cols]
        lines.append(f"| {label} | " + " | ".join(map(_fmt, vals)) + f" | {_fmt(_avg(vals))} |")
    return lines + [""]


def _report_table(results: Mapping[str, Mapping[str, dict]]) -> list[str]:
    head = " | ".join(f"{d} {m}" for d, _ in REPORTS for m, _ in REPORT_METRICS)
    lines = ["## Report generation (x100)", "", f"| model | {head} |", "|---" * (len(REPORTS) * len(REPORT_METRICS) + 1) + "|"]
    for label, pub in PUBLISHED.items():
        if any(b in pub for _, b in REPORTS):
            vals = [v for _, b in REPORTS for v in (pub.get(b) or (None,) * len(REPORT_METRICS))]
            lines.append(f"| {label} | " + " | ".join(map(_fmt, vals)) + " |")
    for label, res in results.items():
        vals = [res.get(b, {}).get(k) for _, b in REPORTS for _, k in REPORT_METRICS]
        lines.append(f"| {label} | " + " | ".join(map(_fmt, vals)) + " |")
    return lines + [""]


OTHER_COLUMNS = [("accuracy", "accuracy"), ("closed", "closed_accuracy"), ("open", "open_accuracy"),
                 ("open F1", "open_f1"), ("MCQ", "mcq_accuracy"), ("ROUGE-L", "rouge_l"), ("CIDEr", "cider"),
                 ("unparsed", "unparsed"), ("judge failed", "judge_failed")]


def _other_table(name: str, results: Mapping[str, Mapping[str, dict]]) -> list[str]:
    lines = [f"## {name}", "", "| model | " + " | ".join(c for c, _ in OTHER_COLUMNS) + " |",
             "|---" * (len(OTHER_COLUMNS) + 1) + "|"]
    for label, res in results.items():
        m = res.get(name, {})
        cells = [str(m[k]) if isinstance(m.get(k), int) else _fmt(m.get(k)) for _, k in OTHER_COLUMNS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines + [""]


def summary_markdown(results: Mapping[str, Mapping[str, dict]]) -> str:
    present = {b for res in results.values() for b in res}
    lines = ["# Evaluation summary", "",
             "Published rows are the paper's (LINGSHU.md section 7); '-' = not evaluated / not published.", ""]
    if present & {b for _, b in MULTIMODAL}:
        lines += _qa_table("Multimodal QA", MULTIMODAL, results)
    if present & {b for _, b in TEXT}:
        lines += _qa_table("Text QA", TEXT, results)
    if present & {b for _, b in REPORTS}:
        lines += _report_table(results)
    for name in sorted(present - PAPER_NAMES):
        lines += _other_table(name, results)
    return "\n".join(lines)


def _chart_values(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The bars of one benchmark: accuracy per answer type, and ROUGE-L for reports."""
    keys = [("closed", "closed_accuracy"), ("open", "open_accuracy"), ("MCQ", "mcq_accuracy"),
            ("report ROUGE-L", "rouge_l")]
    vals = {title: metrics[k] for title, k in keys if metrics.get(k) is not None}
    if len(vals) <= 1 and metrics.get("accuracy") is not None:
        return {"accuracy": metrics["accuracy"]}
    return vals


def write_chart(results: Mapping[str, Mapping[str, dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: list[tuple[str, str]] = []  # (benchmark, metric title)
    for res in results.values():
        for bench, m in res.items():
            for title in _chart_values(m):
                if (bench, title) not in groups:
                    groups.append((bench, title))
    labels = list(results)
    width = 0.8 / max(1, len(labels))
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(groups) * max(1, len(labels)) * 0.5 + 2), 4.5))
    for j, label in enumerate(labels):
        ys = [_chart_values(results[label].get(b, {})).get(t, 0.0) for b, t in groups]
        xs = [i + (j - (len(labels) - 1) / 2) * width for i in range(len(groups))]
        bars = ax.bar(xs, ys, width, label=label)
        ax.bar_label(bars, fmt="%.0f", fontsize=7, padding=1)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"{b}\n{t}" for b, t in groups], fontsize=8)
    ax.set_ylabel("% (ROUGE-L x100)")
    ax.set_ylim(0, 100)
    ax.set_title("Evaluation by model")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_summary(results: Mapping[str, Mapping[str, dict]], out_dir: str | Path) -> dict[str, Path]:
    """results: {model label: {benchmark: metrics}} -> summary.json, summary.md, summary.png in out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "summary.json", "md": out_dir / "summary.md", "png": out_dir / "summary.png"}
    paths["json"].write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    paths["md"].write_text(summary_markdown(results), encoding="utf-8")
    write_chart(results, paths["png"])
    return paths
