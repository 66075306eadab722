"""Every `python launch.py ...` shown in README.md, in the config headers (conf/**/*.yaml), in
docs/ and in launch.py and the task modules' docstrings composes and passes validation, as
`--cfg job` would, so documentation cannot rot. Placeholders (`<run>`, `...`) stand for the
user's paths: a missing folder or a `???` they hide is the only failure allowed. The commands
that do work are also run for real elsewhere (tests/e2e/test_recipes.py: the step-by-step
sequence and every experiment in miniature)."""

import itertools
import re
import shlex
from pathlib import Path

import pytest
from omegaconf.errors import MissingMandatoryValue

from lingshu.errors import ConfigError

from lingshu.config import apply_scale, validate
from tests.conftest import CONF, ROOT

FILES = [ROOT / "README.md", ROOT / "launch.py", *sorted((ROOT / "docs").glob("*.md")),
         *sorted((ROOT / "conf").rglob("*.yaml")), *sorted((ROOT / "lingshu" / "tasks").glob("*.py"))]
PLACEHOLDER_FAULTS = ("no such checkpoint", "is required")


def commands(path: Path) -> list[str]:
    text = path.read_text()
    found = [" ".join(c.split()) for c in re.findall(r"`(python launch\.py[^`]*)`", text)]  # inline, may wrap
    text = re.sub(r"`python launch\.py[^`]*`", "", text)
    lines = [re.sub(r"^\s*#", "", ln) if path.suffix == ".yaml" else ln for ln in text.splitlines()]
    joined, buf = [], ""
    for ln in lines:
        buf = f"{buf} {ln.strip()}" if buf else ln
        if buf.rstrip().endswith("\\"):
            buf = buf.rstrip()[:-1]
            continue
        joined.append(buf)
        buf = ""
    for ln in joined:
        if "python launch.py" in ln:
            cmd = ln[ln.index("python launch.py"):]
            found.append(re.split(r"\s+#\s", cmd)[0].strip())
    return found


def overrides(cmd: str) -> list[list[str]]:
    """The override lists a command composes: `...` dropped, `<placeholder>` made a path, flags
    removed, one list per value of a sweep (`a=x,y`)."""
    cmd = re.sub(r"<[^>]*>", "/nonexistent/placeholder", cmd)
    args = [a for a in shlex.split(cmd)[2:] if a not in ("...", "-m", "--multirun")]
    if "--cfg" in args:
        i = args.index("--cfg")
        del args[i:i + 2]
    choices = []
    for a in args:
        key, _, value = a.partition("=")
        plain = "[" not in value and "{" not in value and "," in value
        choices.append([f"{key}={v}" for v in value.split(",")] if plain else [a])
    return [list(c) for c in itertools.product(*choices)]


DOC_COMMANDS = sorted({(str(p.relative_to(ROOT)), c) for p in FILES for c in commands(p)})


def test_the_docs_show_the_commands_users_run():
    cmds = [c for _, c in DOC_COMMANDS]
    assert "python launch.py" in cmds  # README command 1
    for needed in ("python launch.py task=curate", "python launch.py task=train stage=shallow_alignment",
                   "python launch.py experiment=lingshu_7b +scale=miniature"):
        assert any(c.startswith(needed) for c in cmds), needed
    assert len(DOC_COMMANDS) > 30


@pytest.fixture(scope="module")
def compose():
    """Hydra initialised once for the module (composing is then fast); the run dir as in conftest."""
    import lingshu  # noqa: F401  (registers the config resolvers)
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        yield lambda args, run: hydra_compose("config", overrides=[*args, f"paths.run_dir={run}",
                                                                    f"paths.data_dir={run}/data"])
    GlobalHydra.instance().clear()


@pytest.mark.parametrize("where,cmd", DOC_COMMANDS)
def test_documented_command_composes_and_validates(where, cmd, compose, tmp_path):
    for args in overrides(cmd):
        cfg = compose(args, tmp_path)
        try:
            apply_scale(cfg)
            validate(cfg, build=False)
        except MissingMandatoryValue:
            pass  # a path the user fills in (hidden behind `...` in the docs)
        except ConfigError as e:
            assert any(f in str(e) for f in PLACEHOLDER_FAULTS), f"{where}: {cmd}\n  {e}"
