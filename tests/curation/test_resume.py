"""kill -9 at any point, rerun, and the shards equal an uninterrupted run's, byte for byte."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lingshu.data.shards import iter_samples
from lingshu.tasks.curate import run

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from kill_helper import config  # noqa: E402



def outputs(root: Path) -> tuple:
    out = root / "curate" / "demo"
    m = json.loads((out / "manifest.json").read_text())
    return m, (out / "rejects.jsonl").read_bytes(), sorted(p.name for p in out.iterdir())


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tokenizer_dir):
    root = tmp_path_factory.mktemp("reference")
    run(config(root, tokenizer_dir))
    return outputs(root)


@pytest.mark.parametrize("phase", ["map", "merge"])
def test_kill_and_resume_gives_identical_shards(tmp_path, tokenizer_dir, reference, phase):
    env = dict(os.environ, PYTHONPATH=str(HERE.parents[1]))
    # map: mid-way through the first of 3 partitions; merge: in the second 50-sample final shard
    proc = subprocess.run([sys.executable, str(HERE / "kill_helper.py"), str(tmp_path), str(tokenizer_dir),
                           phase, "70" if phase == "map" else "60"], env=env, capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    out = tmp_path / "curate" / "demo"
    assert not (out / "manifest.json").exists()
    work = list((tmp_path / "curate" / "_work").rglob("*"))
    done = [p for p in work if p.name == "DONE"]
    if phase == "map":  # a partition was cut off with a staging tar half written
        assert len(done) < 3 and any(p.name.endswith(".tar.tmp") for p in work)
    else:  # every partition mapped; the merge was cut off mid-shard, after finishing others
        assert len(done) == 3 and list(out.glob("shard-*.tar")) and list(out.glob("*.tar.tmp"))

    run(config(tmp_path, tokenizer_dir))  # the same command again
    assert outputs(tmp_path) == reference
    ids = [s.id for s in iter_samples([out])]
    assert len(ids) == len(set(ids)) == reference[0]["counts"]["kept"]
