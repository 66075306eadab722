"""kill -9 at any point, rerun, and the shards equal an uninterrupted run's, byte for byte."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lingshu.data.demo import demo_samples
from lingshu.data.shards import iter_samples
from lingshu.tasks.curate import run

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from kill_helper import config  # noqa: E402

# groups the small demo writes to staging (all but the planted tiny, corrupt and long caption);
# the merge then copies the kept ones into the final shards
STAGED = sum(1 for _ in demo_samples("train", 0, 40, 10)) - 3


def outputs(root: Path) -> tuple:
    out = root / "curate" / "demo"
    m = json.loads((out / "manifest.json").read_text())
    return m, (out / "rejects.jsonl").read_bytes(), sorted(p.name for p in out.iterdir())


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tokenizer_dir):
    root = tmp_path_factory.mktemp("reference")
    run(config(root, tokenizer_dir))
    return outputs(root)


@pytest.mark.parametrize("kill_after", [70, STAGED + 60], ids=["during-map", "during-merge"])
def test_kill_and_resume_gives_identical_shards(tmp_path, tokenizer_dir, reference, kill_after):
    env = dict(os.environ, PYTHONPATH=str(HERE.parents[1]))
    proc = subprocess.run([sys.executable, str(HERE / "kill_helper.py"), str(tmp_path), str(tokenizer_dir),
                           str(kill_after)], env=env, capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    out = tmp_path / "curate" / "demo"
    assert not (out / "manifest.json").exists()
    work = list((tmp_path / "curate" / "_work").rglob("*"))
    done = [p for p in work if p.name == "DONE"]
    if kill_after < STAGED:  # some partition was cut off with a staging tar half written
        assert len(done) < 3 and any(p.name.endswith(".tar.tmp") for p in work)
    else:  # every partition mapped; the merge was cut off mid-shard, after finishing others
        assert len(done) == 3 and list(out.glob("shard-*.tar")) and list(out.glob("*.tar.tmp"))

    run(config(tmp_path, tokenizer_dir))  # the same command again
    assert outputs(tmp_path) == reference
    ids = [s.id for s in iter_samples([out])]
    assert len(ids) == len(set(ids)) == reference[0]["counts"]["kept"]
