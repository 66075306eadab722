"""Run a small demo curation in this process and SIGKILL it after the Nth sample written to a
staging tar (`map N`) or to a final shard (`merge N`). Used by test_resume.py."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from curation_helpers import make_cfg  # noqa: E402

from lingshu.data import shards  # noqa: E402
from lingshu.tasks.curate import run  # noqa: E402

SMALL = {"demo": {"_target_": "lingshu.datasets.demo.DemoSource", "seed": 0, "num_images": 40,
                  "num_text": 10, "kind": "instruction"}}


def config(root: Path, tokenizer_dir: Path):
    return make_cfg(root, tokenizer_dir, sources=SMALL, num_partitions=3, workers=1, shard_max_count=50,
                    output_dir=str(root / "curate"))


if __name__ == "__main__":
    root, tok, phase, kill_after = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    original, calls = shards.ShardWriter.write_span, [0]
    prefix = {"map": "staging", "merge": "shard"}[phase]

    def write_span(self, span):
        where = original(self, span)
        calls[0] += self.prefix == prefix
        if calls[0] == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
        return where

    shards.ShardWriter.write_span = write_span
    run(config(root, tok))
