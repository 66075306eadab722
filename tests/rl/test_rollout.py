"""Rollout engines for GRPO: HF on the live policy, and colocated vLLM (a recording stand-in for the
`vllm` package here): prompts, sampling settings, weight pushes after updates, sleep mode, errors."""

import copy
import io
import json
import os
import sys
import tempfile

import lightning as L
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from lingshu.errors import ConfigError
from lingshu.data.collate import render_chat
from lingshu.data.demo import demo_samples
from lingshu.engines.base import GenerationRequest
from lingshu.models.backbone import Backbone, TinyArch
from lingshu.rl.data import build_prompts
from lingshu.engines.hf import encode_prompts
from lingshu.rl.grpo import GRPOConfig, GRPOModule, encode_each, encode_rollout, stack_prompts
from lingshu.rl.rollout import HFRollout, RolloutConfig, VLLMRollout, build_rollout
from tests import fake_vllm


def png(color, size=(56, 84)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def ids_of(tok, *tokens):
    return [tok.convert_tokens_to_ids(t) for t in tokens]


def test_vllm_prompts_images_and_sampling_settings(tiny, tmp_path, monkeypatch):
    llm_class = fake_vllm.install(monkeypatch)
    model, proc = tiny
    tok = proc.tokenizer
    rollout = VLLMRollout(model, proc, RolloutConfig(engine="vllm", gpu_memory_utilization=0.25), workdir=tmp_path)
    llm = llm_class.last
    assert os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"  # weights are pushed in-process
    assert llm.kwargs["load_format"] == "dummy" and llm.kwargs["gpu_memory_utilization"] == 0.25
    assert llm.kwargs["limit_mm_per_prompt"] == {"image": 6}
    saved = json.loads((tmp_path / "preprocessor_config.json").read_text())["size"]
    assert saved == {"shortest_edge": 3136, "longest_edge": 12544}  # the policy's pixel budget
    files = {p.name for p in tmp_path.iterdir()}
    assert {"config.json", "tokenizer.json", "preprocessor_config.json"} <= files
    assert not any(f.endswith(".safetensors") for f in files)  # weights arrive by sync only

    two = GenerationRequest(messages=[{"role": "user", "content": "<image><image>\nWhich is brighter?"}],
                            images=[png("white"), png("black", (112, 56))], max_new_tokens=5, temperature=1.0,
                            top_p=0.9, seed=11)
    one = GenerationRequest(messages=[{"role": "user", "content": "<image>\nWhat modality?"}], images=[png("gray")],
                            max_new_tokens=5, temperature=1.0, top_p=0.9, seed=22)
    ids = rollout.sample([two, one], n=3)
    end = ids_of(tok, "<|im_end|>")[0]
    assert ids == [[100, 200 + j, end] for j in range(3)] + [[101, 200 + j, end] for j in range(3)]  # group after group

    (p0, sp0), (p1, sp1) = llm.requests
    assert p0["prompt"] == render_chat(tok, two.messages, add_generation_prompt=True)
    assert p0["prompt"].count("<|vision_start|><|image_pad|><|vision_end|>") == 2
    assert [im.size for im in p0["multi_modal_data"]["image"]] == [(56, 84), (112, 56)]
    assert len(p1["multi_modal_data"]["image"]) == 1
    assert (sp0.n, sp0.temperature, sp0.top_p, sp0.max_tokens, sp0.seed, sp1.seed) == (3, 1.0, 0.9, 5, 11, 22)
    assert sp0.stop_token_ids == ids_of(tok, "<|im_end|>", "<|endoftext|>")
    vision = ids_of(tok, "<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>")
    assert sp0.logit_bias == {i: -100.0 for i in vision}  # never a vision token in a response


def test_vllm_greedy_request_is_generated_once_and_repeated(tiny, tmp_path, monkeypatch):
    llm_class = fake_vllm.install(monkeypatch)
    model, proc = tiny
    rollout = VLLMRollout(model, proc, RolloutConfig(engine="vllm"), workdir=tmp_path)
    req = GenerationRequest(messages=[{"role": "user", "content": "Say yes."}], temperature=0.0, top_p=0.5)
    ids = rollout.sample([req], n=2)
    (_, sp), = llm_class.last.requests
    assert (sp.n, sp.temperature, sp.top_p) == (1, 0.0, 1.0)
    assert ids[0] == ids[1]
    assert "multi_modal_data" not in llm_class.last.requests[0][0]


def fresh_tiny():
    return Backbone(arch=TinyArch()).build(seed=0)


def demo_prompts(n: int):
    cfg = GRPOConfig(prompts_per_step=n, update_prompts=n, generations_per_prompt=2, micro_batch_size=2,
                     data={"mixture": [{"source": "demo"}], "yes_no_fraction": 1.0, "mcq_to_open": False})
    prompts, _ = build_prompts(demo_samples("train", 0, 8, 0, planted=False), cfg.data, seed=0)
    return [p for p in prompts if p.images][:n]


class Snapshots(L.Callback):
    def __init__(self, model):
        self.model, self.after_step = model, []

    def on_train_batch_end(self, *_):
        self.after_step.append({n: p.detach().clone() for n, p in self.model.named_parameters()})


def test_grpo_pushes_the_updated_policy_to_vllm_before_each_rollout(tmp_path, monkeypatch):
    llm_class = fake_vllm.install(monkeypatch)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the engine's config folder
    model, proc = fresh_tiny()
    yes = proc.tokenizer("yes", add_special_tokens=False)["input_ids"][0]
    end = proc.tokenizer.convert_tokens_to_ids("<|im_end|>")
    # responses of 1 and 2 tokens rewarded by their length: the groups carry signal, weights move
    llm_class.reply = staticmethod(lambda i, j, sp: [yes] * (j + 1) + [end])
    cfg = GRPOConfig(prompts_per_step=2, update_prompts=2, generations_per_prompt=2, micro_batch_size=2,
                     max_new_tokens=4, lr=1e-2, max_steps=2, data={"mixture": [{"source": "demo"}]},
                     rollout={"engine": "vllm", "gpu_memory_utilization": 0.4})
    module = GRPOModule(model, proc, lambda responses, samples: [{"overall": float(len(r))} for r in responses], cfg)
    initial = {n: p.detach().clone() for n, p in model.named_parameters()}
    snaps = Snapshots(model)
    trainer = L.Trainer(accelerator="cpu", max_steps=2, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[snaps])
    trainer.fit(module, DataLoader(demo_prompts(4), batch_size=2, collate_fn=list))

    llm = llm_class.last
    first, second = llm.worker.loads  # one push before each of the two rollouts
    assert set(first) == set(initial) and "model.language_model.layers.0.self_attn.q_proj.weight" in first
    assert all(torch.equal(first[n], initial[n]) for n in initial)
    assert all(torch.equal(second[n], snaps.after_step[0][n]) for n in initial)  # the policy after update 1
    assert any(not torch.equal(second[n], initial[n]) for n in initial)
    pushes = [i for i, e in enumerate(llm.log) if e == ("apply_model",)]
    assert all(llm.log[i + 1] == ("reset_prefix_cache",) for i in pushes)  # no KV from old weights
    seeds = [sp.seed for _, sp in llm.requests]
    assert [sp.n for _, sp in llm.requests] == [2] * 4 and len(set(seeds)) == 4


def test_sleep_mode_hands_memory_back_between_rollouts(tiny, tmp_path, monkeypatch):
    llm_class = fake_vllm.install(monkeypatch)
    model, proc = tiny
    rollout = VLLMRollout(model, proc, RolloutConfig(engine="vllm", enable_sleep_mode=True), workdir=tmp_path)
    req = GenerationRequest(messages=[{"role": "user", "content": "Hi"}], temperature=1.0)
    for _ in range(2):
        rollout.sync_weights(model)
        rollout.sample([req], n=2)
    assert llm_class.last.kwargs["enable_sleep_mode"] is True
    assert llm_class.last.log == [
        ("apply_model",), ("reset_prefix_cache",), ("generate", 1), ("sleep", 1),
        ("wake_up", ("weights",)), ("apply_model",), ("reset_prefix_cache",), ("wake_up", ("kv_cache",)),
        ("generate", 1), ("sleep", 1)]


def test_a_push_that_leaves_vllm_parameters_unloaded_fails(tiny, tmp_path, monkeypatch):
    llm_class = fake_vllm.install(monkeypatch)
    model, proc = tiny
    rollout = VLLMRollout(model, proc, RolloutConfig(engine="vllm"), workdir=tmp_path)
    llm_class.last.worker.extra = {"visual.blocks.0.attn.qkv.weight_scale"}
    with pytest.raises(RuntimeError, match="weight_scale"):
        rollout.sync_weights(model)


def test_without_vllm_the_error_names_the_gpu_extra(tiny, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` fails as on a CPU install
    model, proc = tiny
    with pytest.raises(ImportError, match=r"lingshu\[gpu\]"):
        VLLMRollout(model, proc, RolloutConfig(engine="vllm"), workdir=tmp_path)


def test_vllm_rollouts_refuse_several_ranks_and_unknown_engines(tiny):
    model, proc = tiny
    with pytest.raises(ConfigError, match="one GPU"):
        build_rollout(RolloutConfig(engine="vllm"), model, proc, batch_size=4, world_size=2)
    with pytest.raises(ConfigError, match="hf or vllm"):
        RolloutConfig(engine="sglang")


def test_rollout_engine_is_chosen_in_the_stage_config(compose_cfg):
    from hydra.utils import instantiate

    from lingshu.config import validate

    cfg = compose_cfg(["task=rl", "stage=rl_grpo", "stages.rl_grpo.rollout.engine=vllm",
                       "stages.rl_grpo.rollout.gpu_memory_utilization=0.5"])
    validate(cfg)
    stage = instantiate(cfg.stages.rl_grpo, _convert_="all")
    assert (stage.rollout.engine, stage.rollout.gpu_memory_utilization) == ("vllm", 0.5)
    assert instantiate(compose_cfg(["task=rl", "stage=rl_grpo"]).stages.rl_grpo, _convert_="all").rollout.engine == "hf"


def test_hf_rollout_returns_n_responses_per_prompt_cut_after_the_end_token(tiny):
    model, proc = tiny
    end_ids = ids_of(proc.tokenizer, "<|im_end|>", "<|endoftext|>")
    reqs = [GenerationRequest(messages=[{"role": "user", "content": c}], images=[png("white")], max_new_tokens=6,
                              temperature=0.0) for c in ("<image>\nWhat?", "<image>\nWhere is the lesion?")]
    ids = HFRollout(model, proc, batch_size=3).sample(reqs, n=2)
    assert len(ids) == 4 and ids[0] == ids[1] and ids[2] == ids[3]  # greedy: a group repeats one answer
    for r in ids:
        ends = [k for k, t in enumerate(r) if t in end_ids]
        assert ends in ([], [len(r) - 1]) and (ends or len(r) == 6)


def test_encode_rollout_appends_masked_responses_to_the_prompts(tiny):
    model, proc = tiny
    end, pad = proc.tokenizer.convert_tokens_to_ids("<|im_end|>"), proc.tokenizer.pad_token_id
    reqs = [GenerationRequest(messages=[{"role": "user", "content": "<image>\nWhat?"}], images=[png("white")]),
            GenerationRequest(messages=[{"role": "user", "content": "<image>\nWhere?"}], images=[png("black")])]
    ro = encode_rollout(proc, reqs, [[50, 60, end], [70, 80, 90, 99]], [end, pad])
    assert ro.response_mask.tolist() == [[True, True, True, False], [True] * 4]
    assert ro.truncated.tolist() == [False, True]
    assert ro.inputs["input_ids"][:, ro.prompt_len:].tolist() == [[50, 60, end, pad], [70, 80, 90, 99]]
    assert ro.inputs["attention_mask"][:, ro.prompt_len:].tolist() == [[1, 1, 1, 0], [1] * 4]
    assert ro.inputs["image_grid_thw"].shape[0] == 2
    logits = model(**ro.inputs).logits
    assert logits.shape[:2] == ro.inputs["input_ids"].shape


def test_hf_sampling_ignores_the_checkpoints_generation_config(tiny):
    # A checkpoint's generation_config.json (Qwen2.5-VL-Instruct ships repetition_penalty 1.05, top_k 1)
    # must not change what GRPO samples: same seed, same responses as with a clean config.
    model, proc = tiny
    req = GenerationRequest(messages=[{"role": "user", "content": "<image>\nWhat?"}], images=[png("gray")],
                            max_new_tokens=12, temperature=1.0, top_p=1.0)
    clean = copy.deepcopy(model.generation_config)

    def sample():
        torch.manual_seed(3)
        return HFRollout(model, proc, batch_size=4).sample([req], n=4)

    plain = sample()
    try:
        model.generation_config.update(repetition_penalty=50.0, no_repeat_ngram_size=1, min_new_tokens=12, top_k=1,
                                       min_p=0.5, typical_p=0.2)
        assert sample() == plain
        # the same overrides do reach a plain `generate`: the test above could fail
        torch.manual_seed(3)
        enc = encode_prompts(proc, [req] * 4)
        raw = model.generate(**enc, do_sample=True, max_new_tokens=12, temperature=1.0, top_p=1.0)
        assert len(set(map(tuple, raw[:, enc["input_ids"].shape[1]:].tolist()))) == 1  # top_k 1: one answer
    finally:
        model.generation_config = clean


def test_vllm_sampling_params_turn_penalties_and_cutoffs_off(tiny, tmp_path, monkeypatch):
    llm_class = fake_vllm.install(monkeypatch)
    model, proc = tiny
    rollout = VLLMRollout(model, proc, RolloutConfig(engine="vllm"), workdir=tmp_path)
    rollout.sample([GenerationRequest(messages=[{"role": "user", "content": "Hi"}], temperature=0.7, top_p=0.9)], n=2)
    (_, sp), = llm_class.last.requests
    assert (sp.temperature, sp.top_p, sp.top_k, sp.min_p, sp.repetition_penalty, sp.presence_penalty,
            sp.frequency_penalty) == (0.7, 0.9, -1, 0.0, 1.0, 0.0, 0.0)


def test_prompts_encoded_once_stack_like_a_batch_encoding(tiny):
    # GRPO encodes each prompt (and its images) once and stacks the encodings per micro-batch: the
    # tensors must be those of encoding the micro-batch's (repeated) prompts together.
    _, proc = tiny
    reqs = [GenerationRequest(messages=[{"role": "user", "content": "<image><image>\nCompare."}],
                              images=[png("white"), png("black", (112, 56))]),
            GenerationRequest(messages=[{"role": "user", "content": "A text-only question, longer than the others?"}]),
            GenerationRequest(messages=[{"role": "user", "content": "<image>\nWhat?"}], images=[png("gray")])]
    batch = [reqs[0], reqs[0], reqs[1], reqs[2], reqs[2]]
    once = encode_each(proc, reqs)
    stacked = stack_prompts([once[0], once[0], once[1], once[2], once[2]], proc.tokenizer.pad_token_id)
    together = encode_prompts(proc, batch)
    assert set(stacked) == {k for k in together if k in stacked} and "pixel_values" in stacked
    for k, v in stacked.items():
        assert torch.equal(v, together[k]), k


class ScoreEveryChunk(GRPOModule):
    """The update as it was before the speed-up: behaviour log-probs from a forward for every chunk."""

    def score_logprobs(self, chunks, skip_old=0):
        super().score_logprobs(chunks, skip_old=0)


class FixedRollout:
    """Replays fixed token ids: both runs update from the very same rollout."""

    def __init__(self, responses, end_ids):
        self.responses, self.end_ids = responses, end_ids

    def sync_weights(self, model):
        pass

    def sample(self, requests, n):
        return self.responses[:len(requests) * n]


def test_skipping_the_first_minibatch_old_logprob_pass_leaves_the_update_unchanged():
    _, proc = fresh_tiny()
    tok = proc.tokenizer
    end = tok.convert_tokens_to_ids("<|im_end|>")
    words = [tok(w, add_special_tokens=False)["input_ids"] for w in ("yes", "no", "maybe so", "the left lung")]
    responses = [words[i % 4] + ([end] if i % 3 else []) for i in range(8)]
    # 4 prompts x 2 responses, 2 optimizer steps per rollout (update_prompts 2), 2 passes: the second
    # minibatch's old log-probs come from the policy before any update, not the updated one.
    cfg = GRPOConfig(prompts_per_step=4, update_prompts=2, updates_per_rollout=2, generations_per_prompt=2,
                     micro_batch_size=2, max_new_tokens=4, lr=1e-3, max_steps=4, temperature=0.8,
                     clip_ratio_low=0.001, clip_ratio_high=0.001, data={"mixture": [{"source": "demo"}]})
    prompts = demo_prompts(4)
    results = []
    for cls in (GRPOModule, ScoreEveryChunk):
        model, proc = fresh_tiny()
        reward = lambda rs, ss: [{"overall": float(len(r))} for r in rs]  # noqa: E731
        module = cls(model, proc, reward, cfg, rollout=FixedRollout(responses, [end]))
        metrics = {}
        grab = L.Callback()
        grab.on_train_batch_end = lambda trainer, *_: metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
        trainer = L.Trainer(accelerator="cpu", max_steps=4, logger=False, enable_checkpointing=False,
                            enable_progress_bar=False, enable_model_summary=False, callbacks=[grab])
        trainer.fit(module, DataLoader([prompts], batch_size=None, collate_fn=lambda b: b))
        results.append(({n: p.detach().clone() for n, p in model.named_parameters()}, metrics))
    (fast, m_fast), (full, m_full) = results
    init, _ = fresh_tiny()
    assert max((fast[n] - init.state_dict()[n]).abs().max().item() for n in fast) > 1e-4  # it trained
    assert max((fast[n] - full[n]).abs().max().item() for n in fast) < 1e-6
    assert m_fast["policy/clip_fraction"] > 0  # the tight band did clip on the second pass
    for k in ("policy/loss", "policy/kl", "policy/clip_fraction", "policy/entropy"):
        assert m_fast[k] == pytest.approx(m_full[k], rel=1e-5, abs=1e-7), k


def test_vllm_push_from_fsdp2_shards_sends_full_tensors(tmp_path, monkeypatch):
    import socket

    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import DTensor

    from lingshu.training.fsdp import apply_fsdp

    llm_class = fake_vllm.install(monkeypatch)
    model, proc = fresh_tiny()
    full = {n: p.detach().clone() for n, p in model.named_parameters()}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    try:
        apply_fsdp(model, init_device_mesh("cpu", (1,)))
        assert isinstance(next(model.parameters()), DTensor)
        rollout = VLLMRollout(model, proc, RolloutConfig(engine="vllm"), workdir=tmp_path)
        rollout.sync_weights(model)
    finally:
        dist.destroy_process_group()
    pushed = llm_class.last.worker.loads[-1]
    assert set(pushed) == set(full)
    assert all(not isinstance(t, DTensor) and torch.equal(t, full[n]) for n, t in pushed.items())
