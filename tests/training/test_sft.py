"""SFT: labels on assistant tokens only, the paper's freezing per stage, per-module learning rates."""

import itertools

import pytest
import torch

from lingshu.data.collate import IGNORE, SFTCollator
from lingshu.data.demo import demo_samples
from lingshu.models.backbone import Backbone, TinyArch, module_groups
from lingshu.training.sft import param_groups
from lingshu.training.stage import Stage

SHALLOW = {"vision": 2e-6, "projector": 1e-5, "llm": None}
DEEP = {"vision": 2e-6, "projector": 1e-5, "llm": 1e-5}


def stage(lr, **kw):
    return Stage(name="t", lr=lr, data={"mixture": [{"source": "demo"}]}, **kw)


def batch(proc, n=4):
    samples = list(itertools.islice(demo_samples("train", 0, 4, 4, planted=False), n))
    return SFTCollator(proc)(samples)


def test_only_assistant_tokens_carry_labels(tiny):
    _, proc = tiny
    samples = [s for s in demo_samples("train", 0, 2, 0, planted=False) if s.id.endswith("-yesno")]
    b = SFTCollator(proc)(samples)
    tok = proc.tokenizer
    for i, s in enumerate(samples):
        labelled = b["input_ids"][i][b["labels"][i] != IGNORE]
        assert tok.decode(labelled) == s.messages[1]["content"] + "<|im_end|>"
        # system, user, image and padding positions are all masked
        assert (b["labels"][i][b["attention_mask"][i] == 0] == IGNORE).all()
        pad = tok.convert_tokens_to_ids("<|image_pad|>")
        assert (b["labels"][i][b["input_ids"][i] == pad] == IGNORE).all()


def test_multi_turn_labels_every_assistant_turn(tiny):
    _, proc = tiny
    from lingshu.schema import Sample
    s = Sample(id="d", source="t", kind="dialogue", messages=[
        {"role": "user", "content": "Hello doctor"}, {"role": "assistant", "content": "Hello, how can I help?"},
        {"role": "user", "content": "My knee hurts"}, {"role": "assistant", "content": "See an orthopaedist."}])
    b = SFTCollator(proc)([s])
    labelled = proc.tokenizer.decode(b["input_ids"][0][b["labels"][0] != IGNORE])
    assert labelled == "Hello, how can I help?<|im_end|>See an orthopaedist.<|im_end|>"


def test_too_long_samples_are_dropped_and_counted(tiny):
    _, proc = tiny
    samples = list(itertools.islice(demo_samples("train", 0, 2, 0, planted=False), 4))
    coll = SFTCollator(proc, max_seq_len=40)  # shorter than any image sample: never cut an image span
    with pytest.raises(ValueError, match="max_seq_len"):
        coll(samples)
    assert coll.dropped_too_long == 4


@pytest.mark.parametrize("lr", [SHALLOW, DEEP])
def test_frozen_modules_stay_fixed_and_trainable_ones_move(lr):
    model, proc = Backbone(arch=TinyArch()).build(seed=1)
    st = stage(lr)
    groups = param_groups(model, st)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.AdamW(groups)
    for _ in range(2):
        b = batch(proc)
        b.pop("num_samples")
        model(**b).loss.backward()
        opt.step()
        opt.zero_grad()
    for module, params in module_groups(model).items():
        for name, p in params:
            changed = not torch.equal(before[name], p.detach())
            if st.trainable[module]:
                assert p.requires_grad
            else:
                assert not p.requires_grad and p.grad is None and not changed, name
        moved = [not torch.equal(before[n], p.detach()) for n, p in params]
        assert any(moved) == st.trainable[module], module
    assert all(p not in opt.state for _, ps in module_groups(model).items() for _, p in ps if not p.requires_grad)


def test_param_groups_carry_each_modules_learning_rate(tiny):
    model, _ = tiny
    groups = {g["name"]: g for g in param_groups(model, stage(DEEP))}
    assert {k: g["lr"] for k, g in groups.items()} == {"vision": 2e-6, "projector": 1e-5, "llm": 1e-5}
    assert "llm" not in {g["name"] for g in param_groups(model, stage(SHALLOW))}
    merger = {id(p) for n, p in model.named_parameters() if "merger" in n}
    assert merger == {id(p) for p in groups["projector"]["params"]}


def test_stage_rejects_unknown_modules_and_all_frozen():
    with pytest.raises(ValueError, match="unknown modules"):
        stage({"vit": 1e-5})
    with pytest.raises(ValueError, match="frozen"):
        stage({"vision": None, "projector": None, "llm": None})


def test_token_loss_matches_transformers_and_sample_loss_weighs_samples_equally(tiny):
    from lingshu.training.sft import lm_loss

    model, proc = tiny
    b = batch(proc)
    b.pop("num_samples")
    with torch.no_grad():
        ref = model(**b).loss
        labels = b.pop("labels")
        logits = model(**b).logits
    assert lm_loss(logits, labels, "token").item() == pytest.approx(ref.item(), rel=1e-5)
    # sample mean = mean over samples of each sample's own token mean
    per = [lm_loss(logits[i:i + 1], labels[i:i + 1], "token") for i in range(len(labels))]
    assert lm_loss(logits, labels, "sample").item() == pytest.approx(torch.stack(per).mean().item(), rel=1e-5)


@pytest.mark.parametrize("reduction", ["token", "sample"])
def test_accumulated_step_takes_the_mean_over_the_whole_window(reduction):
    """Two micro-batches of very different sizes, accumulated into one optimizer step: the gradient
    is that of the mean over all their targets, not the mean of the two micro-batch means."""
    import lightning as L

    from lingshu.training.sft import SFTModule, lm_loss_terms

    _, proc = Backbone(arch=TinyArch()).build(seed=0)
    samples = [s for s in demo_samples("train", 0, 6, 0, planted=False) if s.kind != "caption"]
    micro = [SFTCollator(proc)(samples[:1]), SFTCollator(proc)(samples[1:9])]
    st = stage(DEEP, loss_reduction=reduction, grad_accum=2, warmup_steps=0)

    class Capture(SFTModule):
        def on_before_optimizer_step(self, optimizer):
            super().on_before_optimizer_step(optimizer)
            self.grads = {n: p.grad.clone() for n, p in self.model.named_parameters() if p.grad is not None}

    module = Capture(Backbone(arch=TinyArch()).build(seed=1)[0], st)
    module.on_train_start = lambda: None
    L.Trainer(accelerator="cpu", max_steps=1, accumulate_grad_batches=2, logger=False, enable_checkpointing=False,
              enable_progress_bar=False, enable_model_summary=False).fit(
        module, torch.utils.data.DataLoader([dict(b) for b in micro], batch_size=None))

    ref, _ = Backbone(arch=TinyArch()).build(seed=1)
    param_groups(ref, st)  # same freezing
    terms = []
    for b in micro:
        b = dict(b)
        b.pop("num_samples")
        labels = b.pop("labels")
        terms.append(lm_loss_terms(ref(**b, use_cache=False).logits, labels, reduction))
    window = sum(n for n, _ in terms) / sum(d for _, d in terms)
    means = sum(n / d for n, d in terms) / 2
    window_grads = torch.autograd.grad(window, [p for p in ref.parameters()], retain_graph=True, allow_unused=True)
    mean_grads = torch.autograd.grad(means, [p for p in ref.parameters()], allow_unused=True)
    names = [n for n, _ in ref.named_parameters()]
    diff = max((module.grads[n] - g).abs().max().item() for n, g in zip(names, window_grads) if n in module.grads)
    gap = max((w - m).abs().max().item() for w, m in zip(window_grads, mean_grads) if w is not None)
    assert diff < 1e-5 < gap / 10, (diff, gap)


def test_a_stage_trains_its_loaded_model_in_training_mode(tiny, tmp_path):
    """from_pretrained gives eval mode and Lightning keeps modes as it finds them; gradient
    checkpointing runs only in training mode, so a stage would silently train without it."""
    from lingshu.models.export import export_hf
    from lingshu.training.sft import SFTModule

    export_hf(*tiny, tmp_path / "hf")
    model, _ = Backbone(arch=TinyArch(), gradient_checkpointing=True).build(tmp_path / "hf")
    assert not model.training
    SFTModule(model, stage(DEEP))
    assert all(m.training for m in model.modules())
