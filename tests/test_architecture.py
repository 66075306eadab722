"""The package import graph, read statically (every import, function-level ones included)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lingshu"


def _unit(path: Path) -> str:
    """The subpackage (`data`) or top-level module (`schema`) a file belongs to."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imported_modules(path: Path, module: str) -> set[str]:
    """The lingshu modules a file imports, by full name."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level:  # relative: resolve against this module
            base = module.split(".")[: -node.level]
            out.add(".".join(base + ([node.module] if node.module else [])))
        elif isinstance(node, ast.ImportFrom):
            out.add(node.module)
    return {m for m in out if m.startswith("lingshu.")}


def _imported(path: Path, module: str) -> set[str]:
    return {m.split(".")[1] for m in _imported_modules(path, module)}


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        unit = _unit(path)
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        graph.setdefault(unit, set()).update(_imported(path, module) - {unit})
    return graph


def test_the_scan_sees_function_level_and_relative_imports(tmp_path):
    f = tmp_path / "x.py"
    f.write_text("import os\nfrom . import schema\n\ndef f():\n    from lingshu.rl.grpo import G\n")
    assert _imported(f, "lingshu.data.x") == {"data", "rl"}


def test_data_imports_no_consumer():
    consumers = {"training", "evaluation", "engines", "rl", "tasks", "synthesis", "curation", "datasets"}
    assert not import_graph()["data"] & consumers


def test_datasets_build_on_data_only():
    """A dataset module's source and benchmark build on `data` (and the records), never on what
    consumes them: evaluation reads datasets, not the other way round."""
    consumers = {"training", "evaluation", "engines", "rl", "tasks", "synthesis", "curation"}
    assert not import_graph()["datasets"] & consumers


def test_evaluation_reads_datasets_through_the_registry_only():
    """Benchmarks are built from config `_target_`s; evaluation itself only reads the facts registry."""
    seen = set()
    for path in (PACKAGE / "evaluation").rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        seen |= {m for m in _imported_modules(path, module) if m.startswith("lingshu.datasets")}
    assert seen <= {"lingshu.datasets.registry"}, seen


def test_no_package_level_cycle():
    graph = import_graph()
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == path[0]:
                cycles.append(" -> ".join(path + [nxt]))
            elif nxt not in path and nxt > path[0]:  # each cycle once, from its smallest unit
                visit(nxt, path + [nxt])

    for start in sorted(graph):
        visit(start, [start])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_answer_format_instructions_live_with_the_prompt_builder():
    """Records store questions bare: outside the prompt builder and the evaluation (which records
    the templates in force), no module names or spells an answer-format instruction, so none can
    bake one into data or strip one back out."""
    from lingshu import prompts

    names = ("MCQ_INSTRUCTION", "YES_NO_INSTRUCTION", "CLOSED_INSTRUCTION", "OPEN_INSTRUCTION", "REASONING_SUFFIX")
    texts = [getattr(prompts, n) for n in names[:4]] + list(prompts.REASONING_SUFFIX.values())
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel == Path("prompts.py") or rel.parts[0] == "evaluation":
            continue
        source = path.read_text()
        offenders += [f"{rel}: {w[:40]}" for w in (*names, *texts) if w in source]
    assert not offenders, "\n".join(offenders)
