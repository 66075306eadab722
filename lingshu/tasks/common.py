"""Helpers every task uses: run directories, done-markers, seeding, loggers."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

from omegaconf import OmegaConf

from lingshu import io
from lingshu.io import write_json


def run_dir(cfg) -> Path:
    return Path(cfg.paths.run_dir)


def global_rank() -> int:
    """This process's rank before any process group exists: torchrun's RANK, SLURM's task id
    (srun starts every rank at once), or Lightning's LOCAL_RANK for the ranks it spawns itself."""
    for var in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        if var in os.environ:
            return int(os.environ[var])
    return 0


def is_rank_zero() -> bool:
    return global_rank() == 0


def on_rank_zero(cfg, name: str, fn, poll_s: float = 2.0):
    """`fn()` on rank 0; the other ranks wait for its result in `<run>/.ranks/<name>.json`.

    A file, not a collective: outside `fit` no process group exists, and an evaluation may outlast
    any collective timeout. The result carries the config hash, so a file left by an earlier run
    of another config is never taken for this one's."""
    path = run_dir(cfg) / ".ranks" / f"{name}.json"
    key = config_hash(cfg)
    if is_rank_zero():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        try:
            result = fn()
        except BaseException as e:  # the waiting ranks stop too, instead of polling forever
            write_json(path, {"key": key, "error": f"{type(e).__name__}: {e}"})
            raise
        write_json(path, {"key": key, "result": result})
        return result
    import time

    while True:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:  # not written yet, or rank 0 is clearing an earlier run's
            data = None
        if data is not None and data["key"] == key:
            if "error" in data:
                raise RuntimeError(f"step {name} failed on rank 0: {data['error']}")
            return data["result"]
        time.sleep(poll_s)


def config_hash(*nodes) -> str:
    """The key of a step's result: config nodes (resolved) and plain values, in order."""
    return io.config_hash([OmegaConf.to_container(n, resolve=True) if OmegaConf.is_config(n) else n
                           for n in nodes])[:16]


def done(out_dir: Path, key: str) -> dict | None:
    """The result a finished step recorded under the same config hash (so a rerun skips it)."""
    marker = out_dir / "DONE.json"
    if marker.exists():
        data = json.loads(marker.read_text())
        if data.get("key") == key:
            return data["result"]
    return None


def mark_done(out_dir: Path, key: str, result: dict) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "DONE.json", {"key": key, "result": result})
    return result


def checkpoint_dir(out_dir: Path, key: str) -> Path:
    """`<out_dir>/checkpoints`, emptied when it holds checkpoints of another config: a rerun of the
    same command resumes, a changed one starts over instead of resuming foreign weights."""
    import shutil

    ckpt = out_dir / "checkpoints"
    marker = ckpt / "CONFIG_KEY"
    if ckpt.exists() and (not marker.exists() or marker.read_text() != key):
        shutil.rmtree(ckpt)
    ckpt.mkdir(parents=True, exist_ok=True)
    marker.write_text(key)
    return ckpt


def loggers(cfg, out_dir: Path, resuming: bool = False) -> list:
    """The selected loggers (`logger=[csv,tensorboard]`), each writing under `out_dir`; one that keeps
    history (metrics.csv) keeps the steps before the checkpoint when resuming."""
    import inspect

    from hydra.utils import instantiate

    out = []
    for node in (cfg.get("logger") or {}).values():
        make = instantiate(node)  # a partial: the run's folder is known only now
        extra = {"keep_history": resuming} if "keep_history" in inspect.signature(make.func).parameters else {}
        out.append(make(save_dir=str(out_dir), **extra))
    return out


def data_identity(curated_dir: str | Path, sources) -> dict[str, str]:
    """{source: hash of its manifest.json}: the manifest records the curation config, the synthesis
    that ran and every shard with its count, so any change in what a stage would read changes it."""
    from lingshu.data.datamodule import resolve_shard_dir

    out = {}
    for name in sorted(set(sources)):
        d = resolve_shard_dir(curated_dir, name)
        manifest = d / "manifest.json"
        blob = manifest.read_bytes() if manifest.exists() else json.dumps(
            [[p.name, p.stat().st_size] for p in sorted(d.glob("*.tar"))]).encode()
        out[name] = hashlib.sha256(blob).hexdigest()[:16]
    return out


def weights_identity(folder: str | Path | None, cfg=None) -> str:
    """Who the starting weights are: the key a lingshu step recorded next to its hf/ folder
    (`<step>/DONE.json`), else a hash of the weight files' bytes (a user-given folder); None: random
    init from the model config (its config is in the key already). With `cfg`, only rank 0 reads the
    bytes (a 32B folder is ~64 GB) and the other ranks take its result."""
    if folder is None:
        return "random-init"
    folder = Path(folder)
    marker = folder.parent / "DONE.json"
    if folder.name == "hf" and marker.exists():
        data = json.loads(marker.read_text())
        if Path(str(data.get("result", {}).get("hf", ""))).resolve() == folder.resolve():
            return f"step:{data['key']}"
    files = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
    stats = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    if cfg is None:
        return f"files:{_hash_files(stats)}"
    # named by the files' names, sizes and mtimes: a result left for other files is never taken
    return f"files:{on_rank_zero(cfg, f'weights-{io.config_hash(stats)[:16]}', lambda: _hash_files(stats))}"


@functools.lru_cache(maxsize=16)
def _hash_files(files: tuple) -> str:
    """sha256 of the files' names and bytes (cached per name, size and mtime: a 32B model is read once a run)."""
    h = hashlib.sha256()
    for path, _, _ in files:
        h.update(Path(path).name.encode())
        with open(path, "rb") as f:
            while chunk := f.read(1 << 24):
                h.update(chunk)
    return h.hexdigest()[:16]


def fresh_dir(out: Path, key: str, what: str) -> None:
    """Work in `out` resumes by item or step; if it was written under another key (other weights,
    data or config), it is cleared, and CLEARED.txt says why."""
    import shutil

    marker = out / "KEY"
    if out.exists() and any(out.iterdir()) and (not marker.exists() or marker.read_text() != key):
        old = marker.read_text() if marker.exists() else "none recorded"
        shutil.rmtree(out)
        out.mkdir(parents=True)
        (out / "CLEARED.txt").write_text(f"cleared: the earlier {what} here were made under key {old}; "
                                         f"this run's key is {key} (different weights, data or config)\n")
    out.mkdir(parents=True, exist_ok=True)
    marker.write_text(key)
