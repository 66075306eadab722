"""Progress bar while mapping, summary table at the end (rich)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator, Sequence

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from lingshu.logs import PROGRESS_DELAY_S


class RateColumn(ProgressColumn):
    def render(self, task) -> Text:
        return Text(f"{task.speed or 0:,.0f} samples/s")


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator:
    """Yields `advance(n)` (None when disabled). The bar appears once curation has run for
    PROGRESS_DELAY_S, and clears itself when done: the summary table that follows holds the counts."""
    if not enabled:
        yield None
        return
    bar = Progress(SpinnerColumn(), TextColumn("curating"), BarColumn(), TextColumn("{task.completed:,} samples"),
                   RateColumn(), TimeElapsedColumn(), transient=True)
    task = bar.add_task("curate", total=None)
    start = time.monotonic()

    def advance(n: int) -> None:
        bar.advance(task, n)
        if not bar.live.is_started and time.monotonic() - start >= PROGRESS_DELAY_S:
            bar.start()

    try:
        yield advance
    finally:
        if bar.live.is_started:
            bar.stop()


def summary_table(counts: dict[str, dict], chain: Sequence[str] = ()) -> Table:
    """One block per source: its totals, then what each op dropped or quarantined (in `chain`
    order; a manifest read back lists its ops alphabetically)."""
    table = Table(title="curation summary")
    for col in ("source", "step", "read", "kept", "dropped", "quarantined"):
        table.add_column(col, justify="left" if col in ("source", "step") else "right")
    for name, c in counts.items():
        table.add_row(name, "all", f"{c['read']:,}", f"{c['kept']:,}", f"{sum(c['dropped'].values()):,}",
                      f"{c['quarantined']:,}", end_section=False)
        seen = {*c["dropped"], *c["quarantined_by"]}
        ops = list(dict.fromkeys([*(op for op in chain if op in seen), *c["dropped"], *c["quarantined_by"]]))
        for i, op in enumerate(ops):
            table.add_row("", op, "", "", f"{c['dropped'].get(op, 0):,}", f"{c['quarantined_by'].get(op, 0):,}",
                          end_section=i == len(ops) - 1)
    return table


def print_summary(counts: dict[str, dict], ops: Sequence = ()) -> None:
    """The table, then what ops that have one say about their settings (e.g. MinHash's S-curve)."""
    console = Console()
    console.print(summary_table(counts, [op.name for op in ops]))
    for op in ops:
        if hasattr(op, "describe"):
            console.print(op.describe(), highlight=False)
