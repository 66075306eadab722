"""The `lingshu` console script: the same entry as `python launch.py`, with the repository's conf/."""

import runpy
import sys
from pathlib import Path

LAUNCH = Path(__file__).resolve().parents[1] / "launch.py"


def main() -> None:
    if not LAUNCH.exists():
        sys.exit(f"lingshu: {LAUNCH} not found; install lingshu from a clone (pip install -e .)")
    sys.argv[0] = str(LAUNCH)
    runpy.run_path(str(LAUNCH), run_name="__main__")
