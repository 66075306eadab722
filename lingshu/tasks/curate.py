"""`task=curate`: read the selected sources, run the curation chain, write audited shards.

    python launch.py task=curate source=[vqa_rad,slake] source.vqa_rad.path=/data/vqa_rad source.slake.path=/data/slake
    python launch.py task=curate ... curation.ops.min_size.min_side=32 curation.ops.decontaminate=null
    # a cluster: one job per slice, into one shared folder, then one run that merges
    python launch.py -m task=curate hydra/launcher=submitit_slurm curation.partition=0,1,2,3 \
        curation.num_partitions=4 paths.curated_dir=/shared/curated
    python launch.py task=curate curation.num_partitions=4 paths.curated_dir=/shared/curated

Output: `<paths.curated_dir>/<source>/` (default `data/curated/`, the same for every command, so
task=train finds it) with `shard-*.tar`, `manifest.json` and `rejects.jsonl`. Rerunning resumes
(a finished run is a no-op; a killed one redoes only its unfinished partitions and the merge); a
source curated under another config is redone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lingshu.curation.ops import Op
from lingshu.curation.summary import print_summary, progress_bar
from lingshu.curation.runner import Curation, config_hash, curate
from lingshu.data.sources import build_sources
from lingshu.io import write_json

# Settings that change how the work is split or shown, never what comes out.
RUN_ONLY = ("partition", "num_partitions", "workers", "progress", "keep_work")

# The config groups this task builds, validated before it runs (lingshu.config.validate).
GROUPS = ("source", "synthesis", "model")


def build_ops(ops_cfg: Any) -> list[Op]:
    """The chain from `curation.ops`: a mapping name -> op node (in order; the key names the op) or
    a list of op nodes."""
    from hydra.utils import instantiate

    ops_cfg = ops_cfg or []
    named = ops_cfg.items() if hasattr(ops_cfg, "items") else ((None, node) for node in ops_cfg)
    # not recursive: benchmark and held-out nodes inside an op are built by the op itself
    ops = [instantiate(node, _recursive_=False, **({"name": str(key)} if key is not None else {}))
           for key, node in named if node is not None]
    return ops  # distinct names: checked by Curation


def output_dir(cfg: Any) -> Path:
    """paths.curated_dir: the one place curation writes and training reads."""
    return Path(cfg.paths.curated_dir)


def make_curation(cfg: Any) -> Curation:
    from omegaconf import OmegaConf

    c = cfg.curation
    ident = {"source": OmegaConf.to_container(cfg.source, resolve=True),
             "curation": {k: v for k, v in OmegaConf.to_container(c, resolve=True).items() if k not in RUN_ONLY}}
    return Curation(sources=build_sources(cfg.source), ops=build_ops(c.ops), out_dir=output_dir(cfg),
                    config_hash=config_hash(ident), num_partitions=int(c.get("num_partitions", 1)),
                    workers=int(c.get("workers", 1)), shard_max_count=int(c.get("shard_max_count", 1000)),
                    shard_max_bytes=int(c.get("shard_max_bytes", 1 << 30)), keep_work=bool(c.get("keep_work", False)))


def run(cfg: Any) -> dict:
    cur = make_curation(cfg)
    partition = cfg.curation.get("partition")
    with progress_bar(bool(cfg.curation.get("progress", True))) as advance:
        cur.progress = advance
        result = curate(cur, None if partition is None else int(partition))
    if "counts" in result:
        print_summary(result["counts"], cur.ops)
    else:
        print(f"curation partition {partition} of {cur.num_partitions}: {result['status']} under {cur.work_dir}; "
              f"when every partition is done, run again without curation.partition to merge")
    if partition is None and cfg.get("synthesis"):
        result["synthesis"] = synthesize(cfg, result["shard_dirs"])
    return result


def synthesize(cfg: Any, shard_dirs: dict[str, str]) -> dict[str, dict]:
    """Run the selected synthesizers over each curated source (after the filters, so a corrupt or
    duplicate image never seeds synthetic questions). Skipped where the same synthesis config ran."""
    import json

    from omegaconf import OmegaConf

    from lingshu.synthesis import build_synthesizers
    from lingshu.synthesis.output import synthesize_shard_dir

    key = config_hash(OmegaConf.to_container(cfg.synthesis, resolve=True))
    counts = {}
    for name, d in shard_dirs.items():
        path = Path(d) / "manifest.json"
        if json.loads(path.read_text()).get("synthesis_key") == key:
            counts[name] = json.loads(path.read_text())["counts"]["synthesis"]
            continue
        counts[name] = synthesize_shard_dir(build_synthesizers(cfg.synthesis), d)["counts"]
        manifest = json.loads(path.read_text())
        manifest["synthesis_key"] = key
        write_json(path, manifest)
    return counts
