"""The layering holds: the simulator core runs with numpy alone (same results as with numba),
``import venn_gym`` loads neither the env modules nor the file readers, every import (deferred
ones inside functions too) points to the importer's own layer or one below, the repository's
``baselines/`` and ``agents/`` are imported only under their installed names
(``venn_gym.baselines``, ``venn_gym.agents``), and the modules import each other without a
circle at import time."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# folder -> the package it installs as (pyproject.toml's package-dir)
PACKAGES = {"venn_gym": "venn_gym", "baselines": "venn_gym.baselines", "agents": "venn_gym.agents"}


def module_name(path: Path) -> str:
    folder, *rest = path.relative_to(ROOT).with_suffix("").parts
    return ".".join([PACKAGES.get(folder, folder), *rest]).removesuffix(".__init__")


SOURCES = {module_name(p): p for folder in PACKAGES for p in (ROOT / folder).rglob("*.py")}
MODULES = set(SOURCES)
# ARCHITECTURE.md's layers; a module not named here belongs to the core (layer 1).
LAYERS = {
    "venn_gym.catalog": 2,
    "venn_gym.scenario_files": 2,
    "venn_gym.scenario_schema": 2,
    "venn_gym.importers": 2,
    "venn_gym.envs": 3,
    "venn_gym.baselines": 3,
    "venn_gym.agents": 4,
    "venn_gym.experiments": 5,
    "venn_gym.cli": 5,
}


def layer(module: str) -> int:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in LAYERS:
            return LAYERS[".".join(parts[:n])]
    return 1


NUMPY_ONLY = """
import sys, importlib.abc
BLOCKED = {"gymnasium", "pandas", "yaml", "scipy", "numba", "torch", "stable_baselines3", "sb3_contrib",
           "matplotlib", "tqdm", "jsonschema"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"blocked {name}")
sys.meta_path.insert(0, Block())
import venn_gym
from venn_gym.baselines import make_policy
scenario = venn_gym.make_scenario("paper/low-v1", seed=0, scale=0.02)
print(*(venn_gym.run_policy(scenario, make_policy(p)).summary()["mean_jct_s"] for p in ("fifo", "venn")))
"""


def test_the_core_and_the_baselines_run_with_numpy_alone_and_give_the_same_results():
    done = subprocess.run([sys.executable, "-c", NUMPY_ONLY], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    import venn_gym
    from venn_gym.baselines import make_policy

    scenario = venn_gym.make_scenario("paper/low-v1", seed=0, scale=0.02)
    expected = [venn_gym.run_policy(scenario, make_policy(p)).summary()["mean_jct_s"] for p in ("fifo", "venn")]
    assert [float(x) for x in done.stdout.split()] == expected


def test_import_venn_gym_registers_the_envs_without_loading_them():
    code = (
        "import sys, venn_gym, gymnasium as gym; "
        "print(sorted(m for m in sys.modules if m.startswith('venn_gym.envs') or m in "
        "('venn_gym.scenario_files', 'venn_gym.importers', 'pandas'))); "
        "env = gym.make('venn_gym/JobPriority-v0', scenario='paper/low-v1', scenario_options={'scale': 0.02}); "
        "print(type(env.unwrapped).__name__)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded, env_class = done.stdout.splitlines()
    assert loaded == "[]" and env_class == "JobPriorityEnv"


def imported_names(path: Path, top_level_only: bool) -> set[str]:
    """Every module name a module imports (resolved, relative imports included): at import time
    only (top-level statements), or anywhere in it (deferred imports inside functions too)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    nodes = ast.parse(path.read_text()).body if top_level_only else ast.walk(ast.parse(path.read_text()))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            for alias in node.names:  # a submodule (from . import x), else a name of the module itself
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return found


def module_imports(path: Path) -> set[str]:
    """The project's modules a module imports when it is imported (top-level statements only)."""
    name = module_name(path)
    return {m for m in imported_names(path, top_level_only=True) if m in MODULES and m != name}


def test_every_import_points_to_its_own_layer_or_below():
    upward = []
    for name, path in sorted(SOURCES.items()):
        if name == "venn_gym":  # the package's front door re-exports the core and the scenario readers
            continue
        for target in sorted(imported_names(path, top_level_only=False)):
            if target in MODULES and layer(target) > layer(name):
                upward.append(f"{name} (layer {layer(name)}) imports {target} (layer {layer(target)})")
    assert not upward, "\n".join(upward)


def test_the_front_door_imports_only_the_core_and_the_scenario_readers():
    targets = {m for m in imported_names(SOURCES["venn_gym"], top_level_only=False) if m in MODULES}
    assert "venn_gym.simulation" in targets and all(layer(m) <= 2 for m in targets), targets


def test_baselines_and_agents_are_imported_under_the_project_name_only():
    files = [p for folder in (*PACKAGES, "tests", "benchmarks") for p in (ROOT / folder).rglob("*.py")]
    generic = [
        f"{p.relative_to(ROOT)}: {m}"
        for p in files
        for m in imported_names(p, top_level_only=False)
        if m.split(".")[0] in ("baselines", "agents")
    ]
    assert not generic, generic


def test_the_package_has_no_import_circle():
    graph = {name: module_imports(path) for name, path in SOURCES.items()}
    # A package imports its parents on the way in; a module importing its own package's
    # __init__ (which imports it back) is the circle this test is after.
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                raise AssertionError("import circle: " + " -> ".join(trail[trail.index(target) :] + [target]))
            if target not in state:
                visit(target, trail + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
