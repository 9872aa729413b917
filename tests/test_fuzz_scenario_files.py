"""Fuzzing scenario files: the shipped examples with a value replaced (by a wrong type, an extreme
number, a huge nesting), a key deleted or an unknown key added, many times over. Each mutated
file either loads, and then runs a day of simulation to its end, or fails with a VennGymError
that names the file; never another exception, and never a hang."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from venn_gym.baselines import make_policy
from venn_gym.errors import VennGymError
from venn_gym.policy import run_policy
from venn_gym.scenario_files import load_scenario_file

FUZZ_EXAMPLES = 10_000 if os.environ.get("VENN_GYM_PROPERTY_PROFILE") == "long" else 1_000
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "scenarios"
SOURCES = {
    name: yaml.safe_load((EXAMPLES / name).read_text())
    for name in ("campus-v0.yaml", "hand-trace-v0.yaml", "authors-jobs-v0.yaml")
}
ODD_VALUES = [
    None,
    True,
    0,
    -1,
    1,
    2.7,
    1e-300,
    1e308,
    -1e308,
    float("nan"),
    float("inf"),
    "",
    "x",
    "5",
    [],
    {},
    [1, 2],
    {"a": 1},
    {"not": {"not": {"not": "general"}}},
    10**30,
]


def paths(node, prefix=()):
    """Every (path) to a value inside a parsed YAML document."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, prefix + (index,))


def mutated(document, path, kind, value):
    document = yaml.safe_load(yaml.safe_dump(document))  # a deep copy
    if not path:
        return value if kind == "replace" else document
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if kind == "replace":
        parent[last] = value
    elif kind == "delete":
        del parent[last]
    elif isinstance(parent, dict):  # "add": an unknown key beside it
        parent[f"unknown_{last}"] = value
    return document


@st.composite
def mutations(draw):
    name = draw(st.sampled_from(sorted(SOURCES)))
    every = list(paths(SOURCES[name]))
    path = draw(st.sampled_from(every))
    kind = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
    return name, mutated(SOURCES[name], path, kind, draw(st.sampled_from(ODD_VALUES))), (path, kind)


@pytest.mark.filterwarnings("ignore::venn_gym.errors.ScenarioWarning")
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations())
def test_a_mutated_scenario_file_loads_and_runs_or_fails_clearly(case):
    name, document, how = case
    with tempfile.TemporaryDirectory() as folder:
        for data in EXAMPLES.glob("*.csv"):
            shutil.copy(data, folder)
        path = Path(folder) / name
        path.write_text(yaml.safe_dump(document, allow_unicode=True) if document is not None else "")
        try:
            scenario = load_scenario_file(path, seed=0).replace(horizon_s=86_400.0)
            run_policy(scenario, make_policy("venn"), keep_rounds=False)
        except VennGymError as exc:
            assert str(exc), how
        except Exception as exc:  # noqa: BLE001 (the point of the test)
            pytest.fail(f"{name} mutated at {how}: {type(exc).__name__}: {exc}")
