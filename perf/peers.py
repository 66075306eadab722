"""lingshu side by side with the tools its users would pick instead, on CPU.

    pip install -e ".[peers]"      # trl, datatrove (+ spaCy, datatrove's default English tokenizer)
    pip install --no-deps lmms-eval # optional: its MMMU answer parser, loaded from its file
    python perf/peers.py [--only sft grpo dedup mcq] [--repeats 3] [--threads 1] [--out perf/results/peers.json]

Each measure runs lingshu's public functions and the peer on the same weights (the tiny Qwen2.5-VL,
one random init saved as an HF folder both load), the same data and shapes; the two systems
alternate, --repeats times each (one process, warmed up), on the same cores, and the table shows
min and median CPU seconds of the run's process (user + system, all threads; with --threads 1 it holds
up on a machine shared with other work, where wall time does not; wall time is shown too) and
lingshu / peer (below 1: lingshu is faster). A peer that is not installed is skipped with one line. What each side does
differently is printed under the table.

  sft    one SFT optimizer step, end to end (each side's own collator): SFTModule under Lightning
         vs TRL's SFTTrainer on prompt/completion rows (loss on the completion only, as lingshu).
  grpo   one GRPO step (rollout, reward, update): GRPOModule vs TRL's GRPOTrainer, same prompts,
         group size, response length, reward.
  dedup  near-duplicate text dedup of a planted corpus (perf/curation.py's): the paper's
         MinHash op through the curation runner vs datatrove's 4 MinHash stages, one core each;
         also recall (pairs at Jaccard >= 0.85 found) and precision.
  mcq    scoring MCQ predictions: lingshu's extraction + verdict vs lmms-eval's MMMU parser.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata as md
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling benchmark scripts


def version(pkg: str) -> str | None:
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return None


# -- running: the peers' loggers and progress bars go to a log file, not into the table -------------------
@contextlib.contextmanager
def quiet(log: Path):
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (fd, *saved):
            os.close(f)


# -- shared inputs -------------------------------------------------------------------------------------
def tiny_checkpoint(root: Path) -> Path:
    """The tiny backbone (seed 0) as an HF folder: both sides start from these weights."""
    from lingshu.models.backbone import Backbone, TinyArch
    from lingshu.models.export import export_hf

    out = root / "tiny-hf"
    if not (out / "config.json").exists():
        model, proc = Backbone(arch=TinyArch()).build(seed=0)
        export_hf(model, proc, out)
    return out


def load_tiny(ckpt: Path):
    from lingshu.models.backbone import Backbone

    return Backbone(path=str(ckpt)).build(str(ckpt))


def sft_samples(n: int):
    from lingshu.data.demo import demo_samples

    return [s for s in demo_samples("train", 0, 200, 50, planted=False) if s.kind != "caption"][:n]


# -- sft --------------------------------------------------------------------------------------------
SFT_BATCH, SFT_WARMUP, SFT_LR = 16, 1, 5e-4


def lingshu_sft(ckpt: str, steps: int) -> dict:
    import lightning as L
    import torch

    from lingshu.data.collate import SFTCollator
    from lingshu.training.sft import SFTModule
    from lingshu.training.stage import Stage

    model, proc = load_tiny(Path(ckpt))
    samples = sft_samples(SFT_BATCH * (steps + SFT_WARMUP))
    loader = torch.utils.data.DataLoader(samples, batch_size=SFT_BATCH, collate_fn=SFTCollator(proc))
    stage = Stage(name="peers", lr={"vision": SFT_LR, "projector": SFT_LR, "llm": SFT_LR}, warmup_steps=0,
                  micro_batch_size=SFT_BATCH, grad_accum=1, data={"mixture": [{"source": "demo"}]})
    timer = lightning_timer(SFT_WARMUP)
    trainer = L.Trainer(accelerator="cpu", max_steps=steps + SFT_WARMUP, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, gradient_clip_val=1.0, callbacks=[timer])
    module = SFTModule(model, stage)
    module.on_train_start = lambda: None  # no start-up table in a benchmark
    trainer.fit(module, loader)
    return per_step(timer, steps)


def clocks() -> tuple[float, float]:
    """(wall, CPU of this process and its children): CPU time holds up on a machine shared with other work."""
    import resource

    cpu = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for f in ("ru_utime", "ru_stime"))
    return time.perf_counter(), cpu


def per_step(timer, steps: int) -> dict:
    return {"seconds": timer.cpu_seconds / steps, "wall_seconds": timer.seconds / steps}


def lightning_timer(warmup: int):
    """A Lightning callback: wall and CPU time from the start of step `warmup` to the end of training."""
    import lightning as L

    class Timer(L.Callback):
        start = None

        def on_train_batch_start(self, trainer, *_):
            if trainer.global_step == warmup and self.start is None:
                self.start = clocks()

        def on_train_end(self, *_):
            self.seconds, self.cpu_seconds = (b - a for a, b in zip(self.start, clocks()))

    return Timer()


def hf_timer(warmup: int):
    """The same for a transformers Trainer (TRL's trainers)."""
    from transformers import TrainerCallback

    class Timer(TrainerCallback):
        start = None

        def on_step_begin(self, args, state, control, **kw):
            if state.global_step == warmup and self.start is None:
                self.start = clocks()

        def on_train_end(self, args, state, control, **kw):
            self.seconds, self.cpu_seconds = (b - a for a, b in zip(self.start, clocks()))

    return Timer()


def trl_sft_rows(samples) -> list[dict]:
    """Prompt/completion rows in TRL's conversational vision format, images as PIL."""
    from lingshu.data.collate import decode_image
    from lingshu.schema import IMAGE_TOKEN

    rows = []
    for s in samples:
        user = next(m["content"] for m in s.messages if m["role"] == "user")
        answer = next(m["content"] for m in s.messages if m["role"] == "assistant")
        content = [{"type": "image"} for _ in s.images] + [{"type": "text", "text": user.replace(IMAGE_TOKEN, "").strip()}]
        rows.append({"prompt": [{"role": "user", "content": content}],
                     "completion": [{"role": "assistant", "content": [{"type": "text", "text": answer}]}],
                     "images": [decode_image(b) for b in s.images]})
    return rows


def trl_sft(ckpt: str, steps: int) -> dict:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    model, proc = load_tiny(Path(ckpt))
    rows = trl_sft_rows(sft_samples(SFT_BATCH * (steps + SFT_WARMUP)))
    data = Dataset.from_list(rows)
    timer = hf_timer(SFT_WARMUP)
    with tempfile.TemporaryDirectory() as out:
        cfg = SFTConfig(output_dir=out, per_device_train_batch_size=SFT_BATCH, max_steps=steps + SFT_WARMUP,
                        learning_rate=SFT_LR, lr_scheduler_type="constant", warmup_steps=0, max_grad_norm=1.0,
                        gradient_checkpointing=False, use_cpu=True, report_to="none", save_strategy="no",
                        logging_strategy="no", disable_tqdm=True, dataloader_num_workers=0, max_length=None,
                        shuffle_dataset=False, seed=0)
        trainer = SFTTrainer(model=model, args=cfg, train_dataset=data, processing_class=proc, callbacks=[timer])
        trainer.train()
    return per_step(timer, steps)


SFT_NOTES = (f"sft: same weights, {SFT_BATCH} demo VQA/MCQ/text samples a step, AdamW, lr {SFT_LR:g} constant, "
             f"clip 1.0, fp32, no gradient checkpointing (TRL's default is on: switched off), loss on answer tokens "
             f"only; lingshu pads with its SFTCollator under Lightning, TRL's vision collator renders the chat "
             f"through the processor's template; s/step after {SFT_WARMUP} warm-up step")


# -- grpo -----------------------------------------------------------------------------------------------
GRPO_PROMPTS, GRPO_GROUP, GRPO_TOKENS, GRPO_MICRO, GRPO_WARMUP, GRPO_LR, GRPO_KL = 4, 8, 32, 16, 1, 1e-5, 1e-3


def grpo_prompts():
    from lingshu.data.demo import demo_samples
    from lingshu.rl.data import RLData, build_prompts

    data = RLData(mixture=[{"source": "demo"}], yes_no_fraction=0.5, mcq_to_open=False)
    return build_prompts(demo_samples("train", 0, 200, 50, planted=False), data, seed=0)[0]


def grpo_reward():
    from lingshu.rl.rewards import Reward

    return Reward(name="lingshu", components={
        "accuracy": {"fn": "lingshu.rl.rewards:accuracy_reward", "weight": 1.0},
        "format": {"fn": "lingshu.rl.rewards:format_reward", "weight": 0.5}})


def lingshu_grpo(ckpt: str, steps: int) -> dict:
    import lightning as L
    import torch

    from lingshu.rl.grpo import GRPOConfig, GRPOModule

    model, proc = load_tiny(Path(ckpt))
    cfg = GRPOConfig(prompts_per_step=GRPO_PROMPTS, update_prompts=GRPO_PROMPTS, generations_per_prompt=GRPO_GROUP,
                     micro_batch_size=GRPO_MICRO, max_new_tokens=GRPO_TOKENS, lr=GRPO_LR, kl_coef=GRPO_KL,
                     max_steps=steps + GRPO_WARMUP, data={"mixture": [{"source": "demo"}]})
    loader = torch.utils.data.DataLoader(grpo_prompts(), batch_size=GRPO_PROMPTS, shuffle=False, collate_fn=list,
                                         drop_last=True)
    timer = lightning_timer(GRPO_WARMUP)
    trainer = L.Trainer(accelerator="cpu", max_steps=steps + GRPO_WARMUP, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[timer])
    module = GRPOModule(model, proc, grpo_reward(), cfg)
    module.on_train_start = lambda: None
    trainer.fit(module, loader)
    return {**per_step(timer, steps), "response tokens": float(trainer.callback_metrics["response/length_mean"])}


def trl_grpo(ckpt: str, steps: int) -> dict:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from lingshu.data.collate import decode_image
    from lingshu.schema import IMAGE_TOKEN

    model, proc = load_tiny(Path(ckpt))
    prompts, reward = grpo_prompts(), grpo_reward()
    rows = []
    for i, s in enumerate(prompts):
        text = s.messages[0]["content"].replace(IMAGE_TOKEN, "").strip()
        rows.append({"prompt": [{"role": "user", "content": [{"type": "image"} for _ in s.images]
                                 + [{"type": "text", "text": text}]}],
                     "images": [decode_image(b) for b in s.images], "index": i})

    def lingshu_reward(completions, index, **_):  # lingshu's reward, on the Samples the rows came from
        return [r["overall"] for r in reward([c[0]["content"] for c in completions], [prompts[i] for i in index])]

    timer = hf_timer(GRPO_WARMUP)
    with tempfile.TemporaryDirectory() as out:
        cfg = GRPOConfig(output_dir=out, per_device_train_batch_size=GRPO_MICRO,
                         gradient_accumulation_steps=GRPO_PROMPTS * GRPO_GROUP // GRPO_MICRO,
                         num_generations=GRPO_GROUP, max_completion_length=GRPO_TOKENS, learning_rate=GRPO_LR,
                         beta=GRPO_KL, epsilon=0.2, max_grad_norm=1.0, lr_scheduler_type="constant", warmup_steps=0,
                         max_steps=steps + GRPO_WARMUP, gradient_checkpointing=False, use_cpu=True, report_to="none",
                         save_strategy="no", logging_steps=1, disable_tqdm=True, shuffle_dataset=False, seed=0)
        trainer = GRPOTrainer(model=model, reward_funcs=[lingshu_reward], args=cfg, train_dataset=Dataset.from_list(rows),
                              processing_class=proc, callbacks=[timer])
        trainer.train()
    lengths = [h["completions/mean_length"] for h in trainer.state.log_history if "completions/mean_length" in h]
    return {**per_step(timer, steps), "response tokens": float(lengths[-1])}


GRPO_NOTES = (f"grpo: same weights, {GRPO_PROMPTS} demo prompts x {GRPO_GROUP} responses of up to {GRPO_TOKENS} "
              f"tokens (sampling at T=1), lingshu's accuracy + format reward on both, KL {GRPO_KL:g} to a frozen "
              f"reference, clip 0.2, token-mean loss, one optimizer step over micro-batches of {GRPO_MICRO}, no "
              f"gradient checkpointing (TRL's default is on: switched off); both generate with transformers' "
              f"generate (no vLLM); each runs its own rollout, log-prob and update code (e.g. TRL computes no old "
              f"log-probs when a rollout is used once); s/step after {GRPO_WARMUP} warm-up step")


# -- dedup ----------------------------------------------------------------------------------------------
DEDUP_NOTES = ("dedup: one core each, the same documents (originals and their planted copies, curation.py's "
               "corpus); lingshu: word regex, 5-grams, 256 permutations, LSH 26x8 for candidates then each pair "
               "verified at estimated Jaccard >= 0.8, through its map/merge runner (audited rejects, WebDataset "
               "shards); datatrove: its defaults (5-grams, 14 buckets x 8 hashes, 64-bit, text simplification, "
               "spaCy word tokenizer; also run with a plain split), every bucket collision a duplicate (no "
               "verification), JSONL out; seconds are the CPU time of the run")


def lingshu_dedup(corpus: str, out: str) -> dict:
    from curation import text_run

    shutil.rmtree(out, ignore_errors=True)
    r = text_run(Path(corpus), "today (paper.yaml)", Path(out))
    return {"seconds": r["cpu_seconds"], "wall_seconds": r["seconds"], "recall": r["recall"],
            "precision": r["precision"]}


def datatrove_input(corpus: Path) -> Path:
    """The same documents as datatrove reads them: {"id", "text"} rows, the reliable copies' file first."""
    folder = corpus / "datatrove"
    if not folder.exists():
        folder.mkdir()
        for i, name in enumerate(("textbook", "web")):
            with open(corpus / f"{name}.jsonl") as f, open(folder / f"{i}-{name}.jsonl", "w") as g:
                for line in f:
                    r = json.loads(line)
                    g.write(json.dumps({"id": f"{name}-{r['id']}", "text": f"{r['instruction']}\n{r['output']}"}) + "\n")
    return folder


def datatrove_dedup(corpus: str, out: str, tokenizer: str) -> dict:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                                  MinhashDedupFilter, MinhashDedupSignature)
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.word_tokenizers import WordTokenizer

    class SplitTokenizer(WordTokenizer):
        def word_tokenize(self, text):
            return text.split()

        def sent_tokenize(self, text):
            return [text]

        def span_tokenize(self, text):
            return [(0, len(text))]

    language = "en" if tokenizer == "spacy" else SplitTokenizer()
    cfg, out = MinhashConfig(), Path(out)
    shutil.rmtree(out, ignore_errors=True)
    src = str(datatrove_input(Path(corpus)))

    def run(pipeline, tasks=1):
        run.stage += 1
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1, logging_dir=str(out / "logs" / str(run.stage)),
                              skip_completed=False).run()

    run.stage = 0
    (w0, c0) = clocks()
    run([JsonlReader(src), MinhashDedupSignature(output_folder=str(out / "sigs"), config=cfg, language=language)])
    run([MinhashDedupBuckets(input_folder=str(out / "sigs"), output_folder=str(out / "buckets"), config=cfg)],
        tasks=cfg.num_buckets)
    run([MinhashDedupCluster(input_folder=str(out / "buckets"), output_folder=str(out / "remove"), config=cfg)])
    run([JsonlReader(src), MinhashDedupFilter(input_folder=str(out / "remove"),
                                              exclusion_writer=JsonlWriter(str(out / "removed"), compression=None)),
         JsonlWriter(str(out / "kept"), compression=None)])
    wall, seconds = (b - a for a, b in zip((w0, c0), clocks()))
    removed = {json.loads(x)["id"] for f in (out / "removed").glob("*.jsonl") for x in f.read_text().splitlines()}
    pairs = json.loads((Path(corpus) / "pairs.json").read_text())
    dup_pairs = [(f"web-{o}", f"textbook-c{o[1:]}") for o, j in pairs if j >= 0.85]
    in_dups = {d for p in dup_pairs for d in p}
    found = sum(1 for p in dup_pairs if p[0] in removed or p[1] in removed)
    return {"seconds": seconds, "wall_seconds": wall, "recall": found / len(dup_pairs),
            "precision": len(removed & in_dups) / max(1, len(removed))}


# -- mcq --------------------------------------------------------------------------------------------------
MCQ_NOTES = ("mcq: one core each, the same predictions (eval.py's workload: letters, '(B)', 'Answer: C', option "
             "text, boxed, empty, ...); lingshu: strict extraction of the evaluation kit + verdict + aggregate; "
             "lmms-eval: parse_mmmu_multi_choice_response (a random letter where nothing parses) + comparison; "
             "seconds are CPU time")


def lmms_parser():
    """lmms-eval's MMMU parser, loaded from its file: importing the package builds its whole task registry."""
    import importlib.util

    spec = importlib.util.find_spec("lmms_eval")
    path = Path(spec.submodule_search_locations[0]) / "tasks" / "_task_utils" / "mmmu_mcq_utils.py"
    module_spec = importlib.util.spec_from_file_location("lmms_mmmu_mcq_utils", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def lingshu_mcq(n: int) -> dict:
    import random

    from eval import mcq_workload

    from lingshu.evaluation.metrics import aggregate, score_prediction

    items, responses = mcq_workload(n, random.Random(0))
    start = clocks()
    recs = [score_prediction(it, r) for it, r in zip(items, responses)]
    accuracy = aggregate(recs)["accuracy"]
    wall, cpu = (b - a for a, b in zip(start, clocks()))
    return {"seconds": cpu, "wall_seconds": wall, "accuracy %": accuracy}


def lmms_mcq(n: int) -> dict:
    import random

    from eval import mcq_workload

    items, responses = mcq_workload(n, random.Random(0))
    mmmu = lmms_parser()
    random.seed(0)
    start, correct = clocks(), 0
    for it, r in zip(items, responses):
        index2ans, choices = mmmu.get_multi_choice_info(it.options)
        correct += mmmu.parse_mmmu_multi_choice_response(r, choices, index2ans) == it.answer_letter
    wall, cpu = (b - a for a, b in zip(start, clocks()))
    return {"seconds": cpu, "wall_seconds": wall, "accuracy %": 100 * correct / n}


# -- the table ------------------------------------------------------------------------------------------------
def measures(args, root: Path) -> dict:
    """name -> (peer packages, notes, a function giving [(system label, function, args)], lingshu first);
    the inputs (checkpoint, corpus) are only made for measures that run."""
    from curation import text_corpus

    def ckpt():
        return str(tiny_checkpoint(root))

    def dedup():
        corpus = str(text_corpus(args.cache, args.dedup_docs))
        return [("lingshu", lingshu_dedup, (corpus, str(root / "dedup-lingshu"))),
                ("datatrove (spaCy)", datatrove_dedup, (corpus, str(root / "dedup-spacy"), "spacy")),
                ("datatrove (split)", datatrove_dedup, (corpus, str(root / "dedup-split"), "split"))]

    return {
        "sft": (["trl"], SFT_NOTES, lambda: [("lingshu", lingshu_sft, (ckpt(), args.sft_steps)),
                                             ("TRL SFTTrainer", trl_sft, (ckpt(), args.sft_steps))]),
        "grpo": (["trl"], GRPO_NOTES, lambda: [("lingshu", lingshu_grpo, (ckpt(), args.grpo_steps)),
                                               ("TRL GRPOTrainer", trl_grpo, (ckpt(), args.grpo_steps))]),
        "dedup": (["datatrove", "spacy"], DEDUP_NOTES, dedup),
        "mcq": (["lmms-eval"], MCQ_NOTES, lambda: [("lingshu", lingshu_mcq, (args.mcq,)),
                                                   ("lmms-eval MMMU parser", lmms_mcq, (args.mcq,))]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="+", choices=["sft", "grpo", "dedup", "mcq"], default=["sft", "grpo", "dedup", "mcq"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads; with one, CPU seconds do not count "
                                                            "threads waiting for each other on a busy machine")
    ap.add_argument("--sft-steps", type=int, default=5)
    ap.add_argument("--grpo-steps", type=int, default=3)
    ap.add_argument("--dedup-docs", type=int, default=10_000)
    ap.add_argument("--mcq", type=int, default=100_000)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/lingshu-bench-curation"))
    ap.add_argument("--out", type=Path, default=Path("perf/results/peers.json"))
    args = ap.parse_args()
    import torch
    from rich.console import Console

    torch.set_num_threads(args.threads)
    from rich.table import Table

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        log = args.out.with_suffix(".log")  # what the systems print
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
        todo, results, notes = {}, {}, []
        for name, (pkgs, note, systems) in measures(args, root).items():
            if name not in args.only:
                continue
            missing = [p for p in pkgs if version(p) is None]
            if missing:
                print(f"skip {name}: {', '.join(missing)} not installed (pip install -e \".[peers]\")")
                continue
            todo[name] = systems()
            notes.append(note)
        times: dict[tuple, list] = {}
        for rep in range(args.repeats):  # alternated: load from elsewhere on the machine hits every system alike
            for name, systems in todo.items():
                for label, fn, fargs in systems:
                    t0 = time.perf_counter()
                    try:
                        with quiet(log):
                            r = fn(*fargs)
                    except Exception as e:  # noqa: BLE001 - reported, the other measures go on
                        print(f"{name} / {label}: {type(e).__name__}: {e} (log: {log})")
                        continue
                    times.setdefault((name, label), []).append(r)
                    print(f"  {name:6} {label:24} run {rep + 1}: {r['seconds']:.3f} CPU s, {r['wall_seconds']:.3f} wall s "
                          f"({time.perf_counter() - t0:.0f} s with start-up)", flush=True)
        table = Table(title=f"lingshu vs peers, {os.cpu_count()} cores, {args.threads} torch thread(s) (CPU seconds of the "
                            f"run's process, min/median of {args.repeats}, alternated)")
        for col in ("measure", "system", "CPU s min", "CPU s median", "wall s min", "lingshu/peer min",
                    "lingshu/peer median", "quality"):
            table.add_column(col, justify="left" if col in ("measure", "system", "quality") else "right")
        for name, systems in todo.items():
            ours = sorted(r["seconds"] for r in times.get((name, systems[0][0]), []))
            for label, _, _ in systems:
                rs = times.get((name, label), [])
                if not rs:
                    continue
                secs = sorted(r["seconds"] for r in rs)
                quality = ", ".join(f"{k} {v:.4g}" for k, v in rs[0].items() if k not in ("seconds", "wall_seconds"))
                ratio = (f"{ours[0] / secs[0]:.2f}", f"{statistics.median(ours) / statistics.median(secs):.2f}") \
                    if ours and label != systems[0][0] else ("", "")
                table.add_row(name, label, f"{secs[0]:.3f}", f"{statistics.median(secs):.3f}",
                              f"{min(r['wall_seconds'] for r in rs):.3f}", *ratio, quality)
                results.setdefault(name, {})[label] = rs
        Console(width=160).print(table)
    env = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
           **{p: version(p) for p in ("torch", "transformers", "trl", "datatrove", "spacy", "lmms-eval", "lingshu")}}
    print("versions: " + ", ".join(f"{k} {v}" for k, v in env.items()))
    for note in notes:
        print(f"- {note}")
    from lingshu.io import write_json
    write_json(args.out, {"env": env, "results": results})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
