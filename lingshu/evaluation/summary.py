"""Summaries across models: summary.json, summary.md (the paper's table layout with the published
Lingshu-7B and Qwen2.5-VL-7B rows beside the user's) and summary.png (a bar chart)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lingshu.datasets.registry import published_rows, table
from lingshu.evaluation.medevalkit import JUDGE_PROMPT_DIFFERS
from lingshu.io import write_json

# (column title, benchmark config name) in the paper's order, from each dataset module's facts.
MULTIMODAL, TEXT, REPORTS = ([(f.title, f.name) for f in table(kind)] for kind in ("multimodal", "text", "reports"))
# RaTE / Semb / 1/RadCliQ need model weights we do not compute yet: no always-empty columns.
REPORT_METRICS = [("ROUGE-L", "rouge_l"), ("CIDEr", "cider")]
# The protocol that made the published rows: MedEvalKit's rules and prompts, a GPT-4.1 judge given
# MedEvalKit's judge prompt, 8,192 tokens.
PAPER_PROTOCOL = {"scoring": "medevalkit", "judge": "gpt-4.1", "judge_prompt": "medevalkit", "max_new_tokens": 8192,
                  "prompt_set": "medevalkit"}
PUBLISHED = published_rows()  # row label -> {benchmark: number(s)} (Lingshu paper v4)
PAPER_NAMES = {b for _, b in MULTIMODAL + TEXT + REPORTS}


def protocol_of(res: Mapping[str, dict]) -> dict[str, Any] | None:
    """The protocol block of a model's results (the first benchmark that records one)."""
    return next((m["settings"]["protocol"] for m in res.values() if (m.get("settings") or {}).get("protocol")), None)


def protocol_label(proto: Mapping[str, Any] | None) -> str:
    if not proto:
        return "protocol not recorded"
    label = f"{proto['scoring']}, judge {proto['judge']}, {proto['max_new_tokens']} tokens, prompts {proto['prompt_set']}"
    return label + (f", {JUDGE_PROMPT_DIFFERS}" if proto.get("judge_prompt") == JUDGE_PROMPT_DIFFERS else "")


def protocol_differences(proto: Mapping[str, Any] | None) -> list[str]:
    """What separates a run's protocol from the paper's (a judge matches when it names gpt-4.1)."""
    if not proto:
        return ["protocol not recorded"]
    out = []
    for key, want in PAPER_PROTOCOL.items():
        got = proto.get(key)
        if key == "judge":
            same = want in str(got).lower()
        elif key == "judge_prompt":  # a rule-only run already differs by its judge
            if got != want and proto.get("judge") != "rule only":
                out.append(JUDGE_PROMPT_DIFFERS if got else "judge prompt not recorded")
            continue
        else:  # a budget may be one number or one per answer type
            same = got == want or (isinstance(got, dict) and set(got.values()) == {want})
        if not same:
            out.append(f"{key} {got} (paper {want})")
    return out


def _published_rows(results: Mapping[str, Mapping[str, dict]], ncols: int, values) -> list[str]:
    """Published rows when every model here ran the paper's protocol; else one 'protocol differs' line each."""
    diffs = sorted({d for res in results.values() for d in protocol_differences(protocol_of(res))})
    lines = []
    for label, pub in PUBLISHED.items():
        vals = values(pub)
        if vals is None:
            continue
        if diffs:
            lines.append(f"| {label} | protocol differs: {'; '.join(diffs)} |" + " |" * (ncols - 1))
        else:
            lines.append(f"| {label} | " + " | ".join(map(_fmt, vals)) + " |")
    return lines


def _fmt(x: Any) -> str:
    return "-" if x is None else f"{x:.1f}"


def _avg(values: list[float | None]) -> float | None:
    return sum(values) / len(values) if values and all(v is not None for v in values) else None


def _qa_table(title: str, cols: list[tuple[str, str]], results: Mapping[str, Mapping[str, dict]]) -> list[str]:
    lines = [f"## {title} (accuracy %)", "", "| model | " + " | ".join(c for c, _ in cols) + " | Avg. |",
             "|---" * (len(cols) + 2) + "|"]
    def pub_vals(pub):
        vals = [pub.get(b) for _, b in cols]
        return vals + [_avg(vals)] if any(v is not None for v in vals) else None
    lines += _published_rows(results, len(cols) + 1, pub_vals)
    for label, res in results.items():
        vals = [res.get(b, {}).get("accuracy") for _, b in cols]
        cis = [res.get(b, {}).get("accuracy_ci95") for _, b in cols]
        cells = [_fmt(v) + (f" [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else "") for v, ci in zip(vals, cis)]
        lines.append(f"| {label} ({protocol_label(protocol_of(res))}) | " + " | ".join(cells) + f" | {_fmt(_avg(vals))} |")
    return lines + [""]


def _report_table(results: Mapping[str, Mapping[str, dict]]) -> list[str]:
    head = " | ".join(f"{d} {m}" for d, _ in REPORTS for m, _ in REPORT_METRICS)
    lines = ["## Report generation (x100)", "", f"| model | {head} |", "|---" * (len(REPORTS) * len(REPORT_METRICS) + 1) + "|"]
    def pub_vals(pub):
        if not any(b in pub for _, b in REPORTS):
            return None
        return [v for _, b in REPORTS for v in (pub.get(b) or (None,) * len(REPORT_METRICS))[:len(REPORT_METRICS)]]
    lines += _published_rows(results, len(REPORTS) * len(REPORT_METRICS), pub_vals)
    for label, res in results.items():
        vals = [res.get(b, {}).get(k) for _, b in REPORTS for _, k in REPORT_METRICS]
        lines.append(f"| {label} ({protocol_label(protocol_of(res))}) | " + " | ".join(map(_fmt, vals)) + " |")
    return lines + [""]


def _profiles_table(results: Mapping[str, Mapping[str, dict]]) -> list[str]:
    """Per benchmark, both scoring profiles from the same generation and how many items they disagree on."""
    rows = []
    for label, res in results.items():
        for bench, m in sorted(res.items()):
            other = m.get("other_profile")
            if not other or m.get("accuracy") is None:
                continue
            scores = {m["settings"]["scoring"]: m["accuracy"], other["scoring"]: other.get("accuracy")}
            rows.append(f"| {label} | {bench} | {_fmt(scores.get('strict'))} | {_fmt(scores.get('medevalkit'))} | "
                        f"{other['disagreements']} |")
    if not rows:
        return []
    return ["## Scoring profiles (one generation, accuracy %)", "",
            "| model | benchmark | strict | medevalkit | items they disagree on |", "|---|---|---|---|---|",
            *rows, ""]


OTHER_COLUMNS = [("accuracy", "accuracy"), ("closed", "closed_accuracy"), ("open", "open_accuracy"),
                 ("open F1", "open_f1"), ("MCQ", "mcq_accuracy"), ("ROUGE-L", "rouge_l"), ("CIDEr", "cider"),
                 ("unparsed", "unparsed"), ("judge failed", "judge_failed")]


def _other_table(name: str, results: Mapping[str, Mapping[str, dict]]) -> list[str]:
    lines = [f"## {name}", "", "| model | " + " | ".join(c for c, _ in OTHER_COLUMNS) + " |",
             "|---" * (len(OTHER_COLUMNS) + 1) + "|"]
    for label, res in results.items():
        m = res.get(name, {})
        cells = [str(m[k]) if isinstance(m.get(k), int) else _fmt(m.get(k)) for _, k in OTHER_COLUMNS]
        lines.append(f"| {label} ({protocol_label(protocol_of(res))}) | " + " | ".join(cells) + " |")
    return lines + [""]


def summary_markdown(results: Mapping[str, Mapping[str, dict]]) -> str:
    present = {b for res in results.values() for b in res}
    lines = ["# Evaluation summary", "",
             "Published rows are the paper's, shown only beside runs made under its protocol "
             f"({protocol_label(PAPER_PROTOCOL)}); each row names the protocol that made it; "
             "[a, b] = bootstrap 95% interval; '-' = not evaluated / not published.", ""]
    if present & {b for _, b in MULTIMODAL}:
        lines += _qa_table("Multimodal QA", MULTIMODAL, results)
    if present & {b for _, b in TEXT}:
        lines += _qa_table("Text QA", TEXT, results)
    if present & {b for _, b in REPORTS}:
        lines += _report_table(results)
    for name in sorted(present - PAPER_NAMES):
        lines += _other_table(name, results)
    lines += _profiles_table(results)
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
    write_json(paths["json"], results)
    paths["md"].write_text(summary_markdown(results), encoding="utf-8")
    write_chart(results, paths["png"])
    return paths
