"""Reward on prompts RL never trains on, measured through the rollout engine (HF on CPU, vLLM on
GPU): batched like a rollout, from the policy's current weights (pushed to the engine first;
gathered from the shards under FSDP2)."""

from __future__ import annotations

import torch

from lingshu.engines.base import GenerationRequest
from lingshu.schema import stable_id


@torch.no_grad()
def heldout_reward(engine, tokenizer, reward, prompts, max_new_tokens: int, temperature: float = 0.0,
                   samples: int = 1, seed: int = 0) -> dict:
    """Mean reward components over `samples` responses per prompt: greedy (temperature 0, one
    response) or sampled at the rollout temperature (what GRPO optimises)."""
    n = samples if temperature > 0 else 1
    torch.manual_seed(seed)  # the HF engine samples from the global generator; vLLM from the request seeds
    requests = [GenerationRequest(messages=p.messages, images=p.images, max_new_tokens=max_new_tokens,
                                  temperature=temperature, seed=int(stable_id(seed, "heldout", i), 16) % 2**31)
                for i, p in enumerate(prompts)]
    ids = engine.sample(requests, n)
    responses = [tokenizer.decode(x, skip_special_tokens=True).strip() for x in ids]
    reps = [p for p in prompts for _ in range(n)]
    rows = reward(responses, reps)
    out = {}
    for name in rows[0]:
        vals = [r[name] for r in rows if r[name] is not None]
        out[name] = sum(vals) / len(vals) if vals else None
    out["n"] = len(prompts)
    out["examples"] = [{"id": p.id, "answer": p.answer, "response": r} for p, r in list(zip(reps, responses))[:5]]
    return out


def measure_heldout(engine, model, tokenizer, reward, prompts, stage, seed: int) -> dict:
    """Greedy and sampled held-out reward of `model` (its weights pushed to `engine` first)."""
    engine.sync_weights(model)
    return {"greedy": heldout_reward(engine, tokenizer, reward, prompts, stage.max_new_tokens),
            "sampled": heldout_reward(engine, tokenizer, reward, prompts, stage.max_new_tokens, stage.temperature,
                                      samples=stage.data.heldout_samples, seed=seed)}
