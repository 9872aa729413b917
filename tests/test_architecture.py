"""The layering holds: the simulator core runs with numpy alone (same results as with numba),
``import venn_gym`` loads neither the env modules nor the file readers, and the modules of the
``venn_gym`` package import each other without a circle at import time."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "venn_gym"
MODULES = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__") for p in PACKAGE.rglob("*.py")}

NUMPY_ONLY = """
import sys, importlib.abc
BLOCKED = {"gymnasium", "pandas", "yaml", "scipy", "numba", "torch", "stable_baselines3", "sb3_contrib",
           "matplotlib", "tqdm"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"blocked {name}")
sys.meta_path.insert(0, Block())
import venn_gym
from baselines import make_policy
scenario = venn_gym.make_scenario("paper/low-v1", seed=0, scale=0.02)
print(*(venn_gym.run_policy(scenario, make_policy(p)).summary()["mean_jct_s"] for p in ("fifo", "venn")))
"""


def test_the_core_and_the_baselines_run_with_numpy_alone_and_give_the_same_results():
    done = subprocess.run([sys.executable, "-c", NUMPY_ONLY], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    import venn_gym
    from baselines import make_policy

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


def module_imports(path: Path) -> set[str]:
    """The ``venn_gym`` modules a module imports when it is imported (top-level statements only:
    imports inside functions run later and may point down to optional readers)."""
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = name.rsplit(".", 1)[0] if path.name != "__init__.py" else name.removesuffix(".__init__")
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            for alias in node.names:  # a submodule (from . import x), else a name of the module itself
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {m for m in found if m in MODULES and m != name.removesuffix(".__init__")}


def test_the_package_has_no_import_circle():
    graph = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): module_imports(p)
        for p in PACKAGE.rglob("*.py")
    }
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
