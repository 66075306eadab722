"""Every file in conf/ composes and matches the typed signature of the class it builds; bad input
fails at start with one line naming what is wrong."""

import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from lingshu.errors import ConfigError

from lingshu.config import MULTI, check_node, nodes_of, validate
from tests.conftest import CONF, ROOT, compose

SKIP_GROUPS = {"hydra", "local"}


def group_files():
    for d in sorted(Path(CONF).iterdir()):
        if d.is_dir() and d.name not in SKIP_GROUPS:
            for f in sorted(d.glob("*.yaml")):
                yield d.name, f.stem


@pytest.mark.parametrize("group,name", list(group_files()))
def test_every_config_file_composes_and_matches_its_class(group, name, tmp_path):
    # stages: every file is composed by default (stages.<name>); scale is added on top of a recipe
    override = {"stages": [], "scale": [f"+scale={name}"]}.get(group, [f"{group}=[{name}]" if group in MULTI else f"{group}={name}"])
    cfg = compose(override, tmp_path)
    OmegaConf.to_container(cfg, resolve=False)
    for g in ("source", "model", "reward", "benchmark", "engine", "judge", "curation", "synthesis", "logger"):
        for key, sub in nodes_of(cfg, g).items():
            if OmegaConf.is_dict(sub):
                check_node(sub, key)
    for stage_name, sub in cfg.stages.items():
        check_node(sub, f"stages.{stage_name}")


def test_demo_is_the_default_and_validates(tmp_path):
    cfg = compose([], tmp_path)
    assert cfg.task.name == "pipeline" and list(cfg.source) == ["demo"] and list(cfg.benchmark) == ["demo"]
    validate(cfg)


def test_several_sources_each_under_its_own_key(tmp_path):
    cfg = compose(["source=[llava,vqa_rad]", "source.vqa_rad.path=/data/vqa_rad"], tmp_path)
    assert set(cfg.source) == {"llava", "vqa_rad"} and cfg.source.vqa_rad.path == "/data/vqa_rad"


def test_misspelt_key_and_wrong_type_fail_naming_the_key(tmp_path):
    cfg = compose(["task=train", "stage=deep_alignment", "+stages.deep_alignment.learning_rate=1"], tmp_path)
    with pytest.raises(ConfigError, match=r"stages\.deep_alignment\.learning_rate: unknown key"):
        validate(cfg, build=False)
    cfg = compose(["task=train", "stage=deep_alignment", "stages.deep_alignment.epochs=two"], tmp_path)
    with pytest.raises(ConfigError, match=r"stages\.deep_alignment\.epochs: expected int"):
        validate(cfg, build=False)
    cfg = compose(["task=train", "stage=deep_alignment", "model.arch.hidden_size=big"], tmp_path)
    with pytest.raises(ConfigError, match=r"model\.arch\.hidden_size"):
        validate(cfg, build=False)


def launch(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "launch.py", *args, "hydra.run.dir=${oc.env:TMPDIR,/tmp}/lingshu-cfg-test"],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args,expected", [
    (["task=eval", "benchmark=vqa_rad"], "benchmark.vqa_rad.path"),
    (["task=curate", "source=vqa_rad", "source.vqa_rad.path=/nonexistent/vqa_rad"], "/nonexistent/vqa_rad"),
    (["task=train", "stage=deep_alignment", "stages.deep_alignment.init_from=/nonexistent/hf"],
     "stages.deep_alignment.init_from=/nonexistent/hf"),
    (["task=eval", "eval.checkpoint=/nonexistent/ckpt"], "eval.checkpoint=/nonexistent/ckpt"),
    (["task=train", "stage=shallow_alignment", "model=qwen2_5_vl_7b"], "model.path"),
    (["task=train", "stage=shallow_alignment", "model=qwen2_5_vl_7b", "model.path=/models/missing"], "/models/missing"),
    (["task=train", "task.module=lingshu.tasks.deploy"], "task.module=lingshu.tasks.deploy: no such task module"),
    (["task=train"], "task=train needs stage=<name>"),
    (["task=train", "stage=deep_alignmnt"], "stage=deep_alignmnt: no such stage"),
    (["task=train", "stage=rl_grpo"], "run it with task=rl"),
    # every stage task.steps names is checked before curation starts
    (["+stages.deep_alignment.lrr=1"], "stages.deep_alignment.lrr: unknown key"),
    (["stages.deep_alignment.epochs=two"], "stages.deep_alignment.epochs: expected int, got str 'two'"),
    (["task.steps=[curate,shallow_alignmnt]"], "unknown steps ['shallow_alignmnt']"),
    (["stages.instruction_tuning.micro_batch_size=1"], "stages.instruction_tuning.packing packs the samples of one micro-batch"),
    (["+reward.components.bad={fn: 'lingshu.rl.rewards:no_such_fn'}"], "reward.components.bad.fn=lingshu.rl.rewards:no_such_fn"),
    (["synthesis=[template_vqa]", "+synthesis.template_vqa.num_optionz=3"], "synthesis.template_vqa.num_optionz"),
    (["stages.rl_grpo.data.heldout_benchmark=vqa_rad"], "stages.rl_grpo.data.heldout_benchmark=vqa_rad"),
    (["judge=openai", "judge.concurrency=many"], "judge.concurrency"),
    (["engine.batch_size=big"], "engine.batch_size"),
])
def test_bad_input_fails_at_start_with_one_clear_line(args, expected):
    r = launch(*args)
    assert r.returncode == 2, r.stderr[-2000:]
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.startswith("lingshu: error:")]
    assert len(lines) == 1 and expected in lines[0], r.stderr[-2000:]
    assert "Traceback" not in r.stderr


def test_unknown_source_name_is_named():
    r = launch("source=nosuchsource")
    assert r.returncode != 0 and "source/nosuchsource" in r.stderr


def test_paper_recipe_prints_without_touching_weights():
    r = launch("--cfg", "job", "experiment=lingshu_7b")
    assert r.returncode == 0, r.stderr[-2000:]
    cfg = OmegaConf.create(r.stdout)
    stages = cfg.stages
    assert stages.shallow_alignment.lr == {"vision": 2e-6, "projector": 1e-5, "llm": None}
    assert stages.deep_alignment.lr.llm == 1e-5 and stages.instruction_tuning.epochs == 2
    assert stages.instruction_tuning.packing and not stages.shallow_alignment.packing
    for s, batch in (("shallow_alignment", 1), ("deep_alignment", 1), ("instruction_tuning", 16)):
        st = stages[s]  # stage 3's micro-batch is 16 samples packed into ~one 8192-token row
        assert (st.micro_batch_size, st.grad_accum, st.warmup_steps, st.max_seq_len) == (batch, 8, 100, 8192)
    rl = stages.rl_grpo
    assert (rl.prompts_per_step, rl.update_prompts, rl.generations_per_prompt) == (512, 128, 16)
    assert (rl.temperature, rl.kl_coef, rl.lr, rl.max_new_tokens) == (1.0, 1e-3, 1e-6, 4096)
    assert cfg.model.name == "qwen2_5_vl_7b"


def test_32b_recipe_is_the_7b_recipe_on_the_32b_backbone():
    r7, r32 = launch("--cfg", "job", "experiment=lingshu_7b"), launch("--cfg", "job", "experiment=lingshu_32b")
    assert r7.returncode == 0 and r32.returncode == 0, r32.stderr[-2000:]
    c7, c32 = OmegaConf.create(r7.stdout), OmegaConf.create(r32.stdout)
    assert c32.model.name == "qwen2_5_vl_32b" and c32.trainer.num_nodes == 8
    assert c32.stages == c7.stages and c32.source == c7.source


def test_rl_recipe_carries_the_papers_values_and_needs_a_starting_checkpoint():
    r = launch("--cfg", "job", "experiment=lingshu_rl_7b")
    assert r.returncode == 0, r.stderr[-2000:]
    rl = OmegaConf.create(r.stdout).stages.rl_grpo
    assert (rl.prompts_per_step, rl.update_prompts, rl.generations_per_prompt, rl.lr) == (512, 128, 16, 1e-6)
    r = launch("experiment=lingshu_rl_7b")  # the starting checkpoint and the data are the user's to give
    assert r.returncode == 2 and "model.path" in r.stderr, r.stderr[-2000:]
    r = launch("experiment=lingshu_rl_7b", "model.path=/tmp")
    assert r.returncode == 2 and "source.pubmedvision.path" in r.stderr, r.stderr[-2000:]


class Broken:
    """A source whose constructor has a bug (TypeError) or rejects its value (ValueError)."""

    def __init__(self, name: str = "broken", error: str = "type"):
        if error == "type":
            len(None)
        raise ValueError("broken: this value is not allowed")


def test_a_bug_in_our_code_keeps_its_traceback_a_bad_value_is_one_line():
    bug = launch("task=curate", "+source.broken={_target_: tests.test_config.Broken}")
    assert bug.returncode == 1 and "Traceback" in bug.stderr and "TypeError" in bug.stderr, bug.stderr[-2000:]
    assert "lingshu: error:" not in bug.stderr
    bad = launch("task=curate", "+source.broken={_target_: tests.test_config.Broken, error: value}")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "lingshu: error: source.broken: broken: this value is not allowed" in bad.stderr, bad.stderr[-2000:]
