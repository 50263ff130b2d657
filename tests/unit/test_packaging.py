"""The repository contract: the README's Quick start, its runnable example, and runtime imports
that are all declared runtime dependencies (a test extra must not hide a missing one)."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import tomllib
from importlib.metadata import packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "cronwright"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _runtime_closure(specs: list[str]) -> set[str]:
    """The distributions a plain ``pip install .`` brings: the declared ones, with their requested
    extras, and everything they require in turn."""
    todo = [Requirement(spec) for spec in specs]
    seen: set[str] = set()
    while todo:
        req = todo.pop()
        name = _normal(req.name)
        if name in seen:
            continue
        seen.add(name)
        for line in requires(req.name) or []:
            sub = Requirement(line)
            environments = [{"extra": extra} for extra in req.extras] or [{"extra": ""}]
            if sub.marker is None or any(sub.marker.evaluate(env) for env in environments):
                todo.append(sub)
    return seen


def _top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_runtime_import_is_a_declared_runtime_dependency() -> None:
    """Each third-party module imported under src/ belongs to a distribution listed in
    `[project] dependencies` (or to one of theirs, e.g. uvicorn[standard]'s), not only to an extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _runtime_closure(project["dependencies"])
    owners = packages_distributions()
    imported = set().union(*(_top_level_imports(path) for path in SOURCE.rglob("*.py")))
    third_party = {name for name in imported if name not in sys.stdlib_module_names and name != "cronwright"}
    undeclared = {
        module: sorted(owners.get(module, ["<not installed>"]))
        for module in sorted(third_party)
        if not {_normal(dist) for dist in owners.get(module, [])} & runtime
    }
    assert not undeclared, f"imported by src/ but not a runtime dependency: {undeclared}"


def test_readme_quick_start_is_one_block_of_two_lines() -> None:
    """The Quick start is exactly one code block: the run command, then the test command."""
    readme = (ROOT / "README.md").read_text()
    assert readme.lstrip().startswith("# Cronwright")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```[a-z]*\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1
    lines = blocks[0].strip().splitlines()
    assert len(lines) == 2
    assert "pip install ." in lines[0] and "cronwright serve" in lines[0]
    assert '".[test]"' in lines[1] and "pytest" in lines[1]


def test_readme_example_requests_parse() -> None:
    """The smoke test (.ci/run) finds the README's create_event and run_event/v1/wait examples,
    the event has an enabled manual trigger (so the example run is allowed)."""
    spec = importlib.util.spec_from_file_location("smoke", ROOT / "scripts" / "smoke.py")
    assert spec is not None and spec.loader is not None
    smoke = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(smoke)
    (create_path, event), (run_path, run) = smoke.readme_requests()[:2]
    assert (create_path, run_path) == ("create_event/v1", "run_event/v1/wait")
    assert {"type": "manual", "enabled": True} in event["triggers"]
    assert run.get("title") == event["title"] or run.get("id")
