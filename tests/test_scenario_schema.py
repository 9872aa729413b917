"""The published JSON Schema of scenario files: shipped as generated, valid for every scenario file the
repository ships (checked with plain ``jsonschema``, as an editor would), refusing what the loader refuses,
and with the defaults the code applies."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from venn_gym.errors import SpecError
from venn_gym.scenario_files import load_scenario_file
from venn_gym.scenario_schema import problems, scenario_file_schema, scenario_schema_text

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = resources.files("venn_gym") / "data" / "scenario.schema.json"
REGENERATE = "python -m venn_gym.scenario_schema venn_gym/data/scenario.schema.json"


@pytest.fixture(scope="module")
def published():
    schema = json.loads(SHIPPED.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_the_shipped_schema_is_the_generated_one():
    assert SHIPPED.read_text() == scenario_schema_text(), f"the shipped schema is stale: run {REGENERATE}"
    assert json.loads(scenario_schema_text()) == scenario_file_schema()


def shipped_scenarios() -> list[tuple[str, dict]]:
    """Every scenario file of the repository: the examples and the YAML blocks of the docs that are scenarios."""
    found = []
    for folder in (ROOT / "examples", ROOT / "venn_gym" / "data"):
        for path in sorted(folder.rglob("*")):
            if path.suffix in (".yaml", ".yml", ".json"):
                doc = yaml.safe_load(path.read_text())
                if isinstance(doc, dict) and "devices" in doc:  # not the data files (capacities, ...)
                    found.append((str(path.relative_to(ROOT)), doc))
    for doc_file in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for k, block in enumerate(re.findall(r"```yaml\n(.*?)```", doc_file.read_text(), re.S)):
            doc = yaml.safe_load(block)
            if isinstance(doc, dict) and {"devices", "workload"} & set(doc):
                found.append((f"{doc_file.relative_to(ROOT)} yaml block {k}", doc))
    return found


def test_every_shipped_scenario_file_validates_against_the_published_schema(published):
    scenarios = shipped_scenarios()
    assert len(scenarios) >= 7, [name for name, _ in scenarios]  # five examples, two doc blocks
    for name, doc in scenarios:
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in published.iter_errors(doc)]
        assert not errors, (name, errors)


BASIC = {
    "devices": {"synthetic": {"n_devices": 50}},
    "workload": {
        "jobs": [
            {"arrival_s": 0, "requirement": "general", "participants": 2, "rounds": 1, "deadline_s": 600},
            {
                "arrival_s": 10,
                "requirement": {"all": ["compute_rich", {"attr": "ram_gb", "op": ">=", "value": 4}]},
                "participants": 1,
                "rounds": 1,
                "deadline_s": 600,
            },
        ]
    },
}


def changed(path: str, value) -> dict:
    """BASIC with the value at a dotted path (list indices as numbers) replaced; None deletes the key."""
    doc = json.loads(json.dumps(BASIC))
    *parents, last = [int(step) if step.isdigit() else step for step in path.split(".")]
    node = doc
    for step in parents:
        node = node[step]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return doc


WRONG = [
    (changed("colour", "blue"), r"colour: unknown key 'colour'; allowed keys: name, description, devices"),
    (changed("workload", None), r"missing key 'workload' \(required keys: devices, workload\)"),
    (
        changed("devices.csv", "devices.csv"),
        r"devices: expected exactly one of the keys synthetic, csv, fedscale_capacity, venn_client_table; "
        "found synthetic, csv",
    ),
    (changed("devices.synthetic.n_devices", "many"), r"devices\.synthetic\.n_devices: expected an integer >= 1"),
    (changed("trace", {"diurnal": {"amplitude": 1}}), r"trace\.diurnal\.amplitude: expected a number >= 0 and < 1"),
    (changed("workload.jobs", []), r"workload\.jobs: expected a non-empty list of jobs, got \[\]"),
    (changed("workload.jobs.0.quorum", 0), r"workload\.jobs\[0\]\.quorum: expected a number > 0 and <= 1, got 0"),
    (changed("workload.jobs.0.mode", "batch"), r"workload\.jobs\[0\]\.mode: expected 'sync' or 'async', got 'batch'"),
    (changed("workload.jobs.0.comm_s", 10), None),  # comm_s alone is fine; with model_size_mb it is not:
    (
        changed("workload.jobs", [{**BASIC["workload"]["jobs"][0], "comm_s": 10, "model_size_mb": 2}]),
        r"workload\.jobs\[0\]\.comm_s: give model_size_mb or comm_s, not both",
    ),
    (
        changed("workload", {"paper": {"mix": "medium"}}),
        r"workload\.paper\.mix: expected one of comp_heavy, even, general, high",
    ),
    (changed("horizon_s", -1), r"horizon_s: expected a number > 0 or null, got -1"),
    (changed("round_deadline_from", "arrival"), r"round_deadline_from: expected 'request' or 'dispatch'"),
    (
        changed("devices.synthetic_attributes", ["gpu"]),
        r"devices\.synthetic_attributes\[0\]: expected one of categories, ram_gb, os_version, cpu_score, got 'gpu'",
    ),
    (
        changed("workload.jobs.1.requirement", {"all": [{"attr": "ram_gb", "op": "=>", "value": 4}]}),
        r"workload\.jobs\[1\]\.requirement\.all\[0\]: 'op' must be one of",  # told by venn_gym.requirements
    ),
]


@pytest.mark.parametrize("doc, message", WRONG)
def test_the_published_schema_and_the_loader_refuse_the_same_files(tmp_path, published, doc, message):
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(doc))
    if message is None:
        assert not list(published.iter_errors(doc))
        load_scenario_file(path)
        return
    assert list(published.iter_errors(doc)), "the published schema accepts it"
    with pytest.raises(SpecError, match=message) as info:
        load_scenario_file(path)
    assert str(info.value).startswith(f"{path}: ")


def test_a_null_trace_is_the_default_trace(tmp_path, published):
    doc = {**BASIC, "trace": None}  # 'trace:' with every line below it commented out
    assert not list(published.iter_errors(doc))
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(doc))
    assert load_scenario_file(path).trace.checkins_per_day == 150  # 3 per device per day


def test_problems_words_every_structural_mistake_once():
    doc = changed("devices", {"synthetic": {"n_device": 5}}) | {"speed_tiers": 0, "task_noise_log_sd": float("inf")}
    assert problems(doc) == [
        ("devices.synthetic.n_device", "unknown key 'n_device'; allowed keys: n_devices"),  # not also 'missing'
        ("speed_tiers", "expected an integer >= 1, got 0"),
        ("task_noise_log_sd", "expected a number >= 0, got inf"),
    ]
    assert problems({"jobs": [{"arrival_s": True}]}, "workload_file") == [
        (
            "jobs[0]",
            "missing key 'requirement' (required keys: arrival_s, requirement, participants, rounds, deadline_s)",
        ),
        ("jobs[0].arrival_s", "expected a number >= 0, got True"),
    ]
    assert problems({"synth": {}}, "devices", "devices") == [
        (
            "devices.synth",
            "unknown key 'synth'; expected one of the sources synthetic, csv, fedscale_capacity, venn_client_table",
        )
    ]


def test_the_schema_defaults_are_what_a_file_without_the_key_gets(tmp_path):
    schema = scenario_file_schema()
    path = tmp_path / "minimal.json"
    path.write_text(json.dumps(BASIC))
    scenario = load_scenario_file(path)
    for key in ("speed_tiers", "task_noise_log_sd", "horizon_s", "max_sim_days", "round_deadline_from"):
        assert getattr(scenario, key) == schema["properties"][key]["default"], key
    job = scenario.workload.jobs[0]
    for key in ("quorum", "workload_s", "model_size_mb", "mode"):
        assert getattr(job, key) == schema["definitions"]["job"]["properties"][key]["default"], key
    diurnal = schema["definitions"]["diurnal"]["properties"]
    for key in ("amplitude", "peak_hour", "window_median_s", "window_log_sd"):
        assert getattr(scenario.trace, key) == diurnal[key]["default"], key


def test_import_venn_gym_loads_neither_the_schema_nor_jsonschema():
    code = "import sys, venn_gym; print(sorted(m for m in sys.modules if 'jsonschema' in m or 'scenario_schema' in m))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]"


def test_the_schema_command_prints_or_writes_the_published_schema(tmp_path, capsys):
    from venn_gym.cli import main as cli

    shipped = resources.files("venn_gym").joinpath("data/scenario.schema.json").read_text()
    assert cli(["scenarios", "schema"]) == 0
    assert capsys.readouterr().out == shipped
    assert cli(["scenarios", "schema", "--out", str(tmp_path / "s.json")]) == 0
    assert (tmp_path / "s.json").read_text() == shipped
