"""`task=acquire`: fetch the published releases behind the selected sources and benchmarks into
`paths.raw_dir/<entry>/`, where their configs' default `path` points, so `task=curate` and
`task=eval` then need no path override.

    python launch.py task=acquire source=[vqa_rad,slake] benchmark=[medqa]
    python launch.py task=acquire benchmark=text          # a whole suite
    HF_TOKEN=... python launch.py task=acquire benchmark=[mmmu_med]   # gated sets: the token from the environment

Rerunning downloads nothing that is already there and verified; a killed run resumes its
partial files. Ends with a table of what is there and what is missing and why (exit status 1
when anything is missing).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from lingshu.acquire.catalogue import entries_for, load_catalogue
from lingshu.acquire.fetch import Outcome, acquire_entry

# The config groups this task builds, validated before it runs (lingshu.config.validate).
GROUPS = ()  # reads only task.catalogue: the sources and benchmarks it fetches cannot be built before


def selected_keys(cfg: Any) -> list[str]:
    return [f"{group}.{name}" for group in ("source", "benchmark") for name in (cfg.get(group) or {})]


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def print_table(rows: list[tuple[Outcome, str]]) -> None:
    head = ("entry", "serves", "status", "files", "size", "where / why")
    body = [(o.entry, serves, o.status, str(o.files) if o.files else "-", _size(o.bytes) if o.bytes else "-",
             (f"{o.dest}" + (f" ({o.why})" if o.why else "")) if o.status != "missing" else o.why)
            for o, serves in rows]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(5)]
    for r in [head, *body]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[5])


def run(cfg: Any) -> dict:
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # one line per request would bury the table
    task = cfg.task
    out_dir = Path(str(task.out_dir))
    try:
        catalogue = load_catalogue(OmegaConf.to_container(task.catalogue, resolve=True))
    except (ValueError, TypeError) as e:  # a malformed entry: one line naming the key, as for other config errors
        print(f"lingshu: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    keys = selected_keys(cfg)
    entries, unserved = entries_for(catalogue, keys)
    rows = []
    for key in unserved:
        group, name = key.split(".", 1)
        if "path" not in cfg[group][name]:  # built in (demo): nothing to fetch
            continue
        rows.append((Outcome(name, "missing", out_dir / name, f"no catalogue entry serves {key}; set {key}.path "
                                                             f"to your copy"), key))
    for entry in entries:
        outcome = acquire_entry(entry, out_dir, verify=str(task.verify), timeout=float(task.timeout_s))
        rows.append((outcome, " ".join(k for k in entry.serves if k in keys)))
    if not rows:
        print("task=acquire: nothing to fetch for the selection (the demo is built in); choose what to fetch, "
              "e.g. source=[slake] benchmark=[medqa] or benchmark=all")
        return {"out_dir": str(out_dir), "status": {}, "missing": []}
    print_table(rows)
    missing = [o.entry for o, _ in rows if o.status == "missing"]
    result = {"out_dir": str(out_dir), "status": {o.entry: o.status for o, _ in rows}, "missing": missing}
    if missing:
        print(f"lingshu: acquire: {len(missing)} of {len(rows)} missing: {', '.join(missing)} (why: see the table)",
              file=sys.stderr)
        raise SystemExit(1)
    return result
