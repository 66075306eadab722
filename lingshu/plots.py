"""Plots a person would rather look at than read: training curves from a Lightning metrics.csv."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_metrics(path: str | Path) -> dict[str, list[tuple[float, float]]]:
    """column -> [(step, value)] for every non-empty cell."""
    series: dict[str, list[tuple[float, float]]] = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            step = float(row.get("step") or 0)
            for k, v in row.items():
                if k not in ("step", "epoch") and v not in ("", None):
                    series.setdefault(k, []).append((step, float(v)))
    return series


def plot_curves(metrics_csv: str | Path, out_png: str | Path, title: str, panels: list[list[str]]) -> Path | None:
    """One panel per list of columns (those present), x = optimizer step."""
    if not Path(metrics_csv).exists():
        return None
    series = read_metrics(metrics_csv)
    panels = [[c for c in p if c in series] for p in panels]
    panels = [p for p in panels if p]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, cols in zip(axes[0], panels):
        for c in cols:
            xs, ys = zip(*series[c])
            ax.plot(xs, ys, label=c.split("/")[-1])
        ax.set_xlabel("step")
        ax.set_title(", ".join(c.split("/")[-1] for c in cols), fontsize=9)
        ax.grid(alpha=0.3)
        if len(cols) > 1:
            ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return Path(out_png)
