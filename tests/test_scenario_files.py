"""Scenario and workload files: what is written is what is built, and every mistake is named."""

from __future__ import annotations

import contextlib
import json
import pickle
import re
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import venn_gym
import venn_gym.registry as registry_module
import venn_gym.scenario as scenario_module
from venn_gym.baselines import make_policy
from venn_gym.catalog import make_scenario, registered_scenarios
from venn_gym.errors import SpecError
from venn_gym.policy import run_policy
from venn_gym.scenario_files import (
    load_scenario_file,
    load_workload_file,
    register_scenario_file,
    validate_file,
)
from venn_gym.trace import DAY_S, DiurnalTrace, TableTrace

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "scenarios"

BASIC = """\
name: test/basic-v0
devices: {synthetic: {n_devices: 400}}
trace: {diurnal: {checkins_per_day: 2000, amplitude: 0.3}}
workload:
  jobs:
    - {arrival_s: 0, requirement: general, participants: 5, rounds: 2, deadline_s: 600, quorum: 0.8,
       workload_s: 30, model_size_mb: 5}
    - {arrival_s: 600, requirement: {attr: ram_gb, op: ">=", value: 8}, participants: 4, rounds: 2,
       deadline_s: 300, name: big-ram}
speed_tiers: 2
task_noise_log_sd: 0.25
horizon_s: null
"""

DEVICES_CSV = """\
device,compute_factor,bandwidth_mbps,categories,ram_gb
0,0.5,20,15,12
1,1.0,10,3,8
2,1.5,5,1,4
3,2.0,4,1,2
"""

TRACE_CSV = """\
device,start_s,end_s
0,0,900
1,30,900
2,60,900
3,90,900
0,1800,2700
1,1830,2700
2,1860,2700
3,1890,2700
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def hand_files(folder: Path, jobs: str = "", extra: str = "") -> Path:
    write(folder / "data" / "devices.csv", DEVICES_CSV)
    write(folder / "data" / "trace.csv", TRACE_CSV)
    jobs = (
        jobs
        or """\
        - {arrival_s: 0, requirement: general, participants: 2, rounds: 2, deadline_s: 600, workload_s: 10}
        - {arrival_s: 0, requirement: {attr: ram_gb, op: ">=", value: 8}, participants: 1, rounds: 1, deadline_s: 600}
    """
    )
    text = (
        textwrap.dedent("""\
        name: test/hand-v0
        devices: {csv: data/devices.csv}
        trace: {csv: data/trace.csv, period_s: 3600}
        workload:
          jobs:
        """)
        + textwrap.indent(textwrap.dedent(jobs), "    ")
        + textwrap.dedent(extra)
    )
    return write(folder / "hand.yaml", text)


@contextlib.contextmanager
def restored_registry():
    """The scenario registry as it was, after the block (the real one keeps the paper scenarios)."""
    saved = dict(registry_module._REGISTRY)
    try:
        yield registry_module._REGISTRY
    finally:
        registry_module._REGISTRY.clear()
        registry_module._REGISTRY.update(saved)


@pytest.fixture
def registry():
    with restored_registry() as names:
        yield names


# ------------------------------------------------------------------------- loading


def test_yaml_scenario_is_what_it_says(tmp_path):
    scenario = load_scenario_file(write(tmp_path / "basic.yaml", BASIC), seed=3)
    assert scenario.name == "test/basic-v0"
    assert scenario.seed == 3
    assert len(scenario.population) == 400
    assert isinstance(scenario.trace, DiurnalTrace)
    assert scenario.trace.n_devices == 400
    assert scenario.trace.checkins_per_day == 2000 and scenario.trace.amplitude == 0.3
    assert scenario.speed_tiers == 2 and scenario.task_noise_log_sd == 0.25 and scenario.horizon_s is None
    first, second = scenario.workload.jobs
    assert (first.arrival_s, first.requirement, first.participants, first.rounds) == (0, "general", 5, 2)
    assert (first.deadline_s, first.quorum, first.workload_s, first.model_size_mb) == (600, 0.8, 30, 5)
    assert first.name == "job0" and second.name == "big-ram"
    assert second.requirement == {"attr": "ram_gb", "op": ">=", "value": 8}
    # Same seed, same scenario; another seed, another synthetic population.
    again = load_scenario_file(tmp_path / "basic.yaml", seed=3)
    np.testing.assert_array_equal(again.population.compute_factor, scenario.population.compute_factor)
    other = load_scenario_file(tmp_path / "basic.yaml", seed=4)
    assert not np.array_equal(other.population.compute_factor, scenario.population.compute_factor)


def test_json_reads_like_yaml(tmp_path):
    import yaml

    doc = yaml.safe_load(BASIC)
    from_yaml = load_scenario_file(write(tmp_path / "a.yaml", BASIC))
    from_json = load_scenario_file(write(tmp_path / "a.json", json.dumps(doc)))
    assert from_json.workload.jobs == from_yaml.workload.jobs
    np.testing.assert_array_equal(from_json.population.bandwidth_mbps, from_yaml.population.bandwidth_mbps)


def test_hand_files_resolve_against_the_yaml_folder(tmp_path, monkeypatch):
    path = hand_files(tmp_path / "lab")
    monkeypatch.chdir(tmp_path)  # not the YAML's folder
    scenario = load_scenario_file("lab/hand.yaml")
    assert len(scenario.population) == 4
    np.testing.assert_array_equal(scenario.population.attributes["ram_gb"], [12, 8, 4, 2])
    assert isinstance(scenario.trace, TableTrace)
    assert scenario.trace.period_s == 3600 and len(scenario.trace.start) == 8
    result = run_policy(scenario, make_policy("fifo"))
    assert result.finished.all()
    assert path.exists()


def test_options_override_top_level_keys(tmp_path):
    path = write(tmp_path / "basic.yaml", BASIC)
    scenario = load_scenario_file(path, seed=1, horizon_s=3600, speed_tiers=1, name="test/other-v1")
    assert (scenario.horizon_s, scenario.speed_tiers, scenario.name) == (3600, 1, "test/other-v1")
    with pytest.raises(SpecError, match=r"basic\.yaml: unknown option 'scale'; options override the top-level keys"):
        load_scenario_file(path, scale=0.1)
    with pytest.raises(SpecError, match=r"basic\.yaml: horizon_s: expected a number > 0 or null, got -5"):
        load_scenario_file(path, horizon_s=-5)


def test_paper_workload_and_workload_files(tmp_path):
    write(
        tmp_path / "jobs.yaml",
        """\
        name: two-jobs
        jobs:
          - {arrival_s: 0, requirement: 2, participants: 3, rounds: 1, deadline_s: 300}
          - {arrival_s: 10, requirement: any_device, participants: 2, rounds: 1, deadline_s: 300, mode: async,
             buffer_size: 2}
        """,
    )
    workload = load_workload_file(tmp_path / "jobs.yaml")
    assert workload.name == "two-jobs" and len(workload) == 2
    assert workload.jobs[0].requirement == 2 and workload.jobs[1].mode == "async"
    write(tmp_path / "paper.yaml", "paper: {mix: even, n_jobs: 6, scale: 0.05}\n")
    a, b = load_workload_file(tmp_path / "paper.yaml", seed=5), load_workload_file(tmp_path / "paper.yaml", seed=5)
    assert len(a) == 6 and a.jobs == b.jobs
    # A scenario can name a workload file, relative to itself.
    text = BASIC.split("workload:")[0] + "workload: {file: jobs.yaml}\n"
    scenario = load_scenario_file(write(tmp_path / "uses-file.yaml", text))
    assert scenario.workload.jobs == workload.jobs
    text = BASIC.split("workload:")[0] + "workload: {paper: {mix: small, n_jobs: 4, scale: 0.02}}\n"
    scenario = load_scenario_file(write(tmp_path / "paper-scenario.yaml", text), seed=2)
    assert len(scenario.workload) == 4


def test_trace_defaults_to_three_checkins_per_device_per_day(tmp_path):
    text = "devices: {synthetic: {n_devices: 100}}\nworkload:" + BASIC.split("workload:")[1]
    scenario = load_scenario_file(write(tmp_path / "no-trace.yaml", text))
    assert isinstance(scenario.trace, DiurnalTrace) and scenario.trace.checkins_per_day == 300
    assert scenario.name == "file/no-trace"


def test_yaml_reads_exponents_as_numbers(tmp_path):
    text = BASIC.replace("checkins_per_day: 2000", "checkins_per_day: 2e3")
    assert load_scenario_file(write(tmp_path / "exp.yaml", text)).trace.checkins_per_day == 2000.0


# ------------------------------------------------------------ importers via the files


@pytest.fixture(autouse=True)
def trusted_pickles(monkeypatch):
    """The tests below load pickles they wrote themselves (the untrusted case has its own tests)."""
    monkeypatch.setenv("VENN_GYM_TRUST_PICKLES", "1")


def dump(path: Path, obj) -> Path:
    with open(path, "wb") as handle:
        pickle.dump(obj, handle)
    return path


def fedscale_files(folder: Path) -> Path:
    dump(
        folder / "behave",
        {
            "b": {"active": [0, 600], "inactive": [500, 1200], "finish_time": 1800},
            "a": {"active": [50], "inactive": [700], "finish_time": 1800},
        },
    )
    dump(
        folder / "capacity",
        {
            "z": {"computation": 10.0, "communication": 1000.0},
            "a": {"computation": 20.0, "communication": 2000.0},
            "b": {"computation": 30.0, "communication": 3000.0},
        },
    )
    return write(
        folder / "fedscale.yaml",
        """\
        devices: {fedscale_capacity: capacity, match: client_id, synthetic_attributes: [categories]}
        trace: {fedscale_behavior: behave}
        workload:
          jobs:
            - {arrival_s: 0, requirement: any_device, participants: 1, rounds: 2, deadline_s: 600}
        """,
    )


class Planted:
    """Unpickling this runs code (it would write a file)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "the pickle ran"))


def test_scenario_files_load_pickles_only_when_trusted(tmp_path, monkeypatch):
    monkeypatch.delenv("VENN_GYM_TRUST_PICKLES")
    path = fedscale_files(tmp_path)
    dump(tmp_path / "capacity", Planted(tmp_path / "ran.txt"))
    refused = r"devices\.fedscale_capacity: .*capacity is read as a pickle.*--trust-pickles.*venn-gym convert-pickle"
    with pytest.raises(SpecError, match=refused):
        load_scenario_file(path)
    problems = validate_file(path)
    assert len(problems) == 1 and re.search(refused, problems[0])
    assert not (tmp_path / "ran.txt").exists()
    with pytest.raises(SpecError, match="expected a FedScale device capacity"):  # trusted: it runs (no capacities)
        load_scenario_file(path, trust_pickles=True)
    assert (tmp_path / "ran.txt").read_text() == "the pickle ran"


def test_converted_json_loads_without_trust_and_matches_the_pickle(tmp_path, monkeypatch):
    from venn_gym.cli import main
    from venn_gym.importers import pickle_to_json

    path = fedscale_files(tmp_path)
    trusted = load_scenario_file(path)
    assert main(["convert-pickle", str(tmp_path / "behave"), str(tmp_path / "behave.json")]) == 0
    pickle_to_json(tmp_path / "capacity", tmp_path / "capacity.json")
    monkeypatch.delenv("VENN_GYM_TRUST_PICKLES")
    safe = load_scenario_file(
        path,
        devices={"fedscale_capacity": "capacity.json", "match": "client_id", "synthetic_attributes": ["categories"]},
        trace={"fedscale_behavior": "behave.json"},
    )
    np.testing.assert_array_equal(safe.population.compute_factor, trusted.population.compute_factor)
    np.testing.assert_array_equal(safe.population.bandwidth_mbps, trusted.population.bandwidth_mbps)
    np.testing.assert_array_equal(safe.trace.start, trusted.trace.start)
    np.testing.assert_array_equal(safe.trace.device, trusted.trace.device)
    with pytest.raises(SpecError, match="must end in .json"):
        pickle_to_json(tmp_path / "capacity", tmp_path / "capacity.txt")


def test_cli_trust_pickles_flag(tmp_path, monkeypatch, capsys):
    from venn_gym.cli import main

    path = fedscale_files(tmp_path)
    monkeypatch.delenv("VENN_GYM_TRUST_PICKLES")
    assert main(["scenarios", "validate", str(path)]) == 1
    assert "read as a pickle" in capsys.readouterr().out
    assert main(["--trust-pickles", "scenarios", "validate", str(path)]) == 0
    assert "OK" in capsys.readouterr().out


def test_venn_client_table_scenario(tmp_path):
    rows = [(1, 0.0, 900.0), (2, 100.0, 1000.0), (3, 200.0, 1100.0), (4, 4 * DAY_S, 4 * DAY_S + 600)]
    pd.DataFrame(rows, columns=["ID", "start", "end"]).to_csv(tmp_path / "clients.csv")
    dump(tmp_path / "eligibility", [[1, 2, 3, 4], [1]])
    dump(
        tmp_path / "capacity",
        {1: {"computation": 78.0, "communication": 13736.0}, 2: {"computation": 39.0, "communication": 27472.0}},
    )
    write(
        tmp_path / "venn.yaml",
        """\
        name: test/venn-table-v0
        devices:
          venn_client_table: {table: clients.csv, eligibility: eligibility, capacity: capacity}
        workload:
          jobs:
            - {arrival_s: 0, requirement: high_performance, participants: 2, rounds: 1, deadline_s: 600}
        """,
    )
    scenario = load_scenario_file(tmp_path / "venn.yaml")
    assert len(scenario.population) == 4 and scenario.trace.period_s == 5 * DAY_S
    np.testing.assert_array_equal(scenario.population.attributes["categories"], [15, 1, 15, 1])
    np.testing.assert_allclose(scenario.population.compute_factor, [78 / 58.5, 39 / 58.5] * 2)
    write(tmp_path / "both.yaml", (tmp_path / "venn.yaml").read_text() + "trace: {diurnal: {}}\n")
    with pytest.raises(SpecError, match=r"both\.yaml: trace: devices from venn_client_table bring their own trace"):
        load_scenario_file(tmp_path / "both.yaml")


def test_fedscale_scenario_matches_capacity_by_client_id(tmp_path):
    scenario = load_scenario_file(fedscale_files(tmp_path))
    np.testing.assert_allclose(scenario.population.bandwidth_mbps, [2.0, 3.0])  # devices a, b
    np.testing.assert_allclose(scenario.population.compute_factor, [1.0, 1.5])  # mean over the file: 20
    assert sorted(scenario.population.attributes) == ["categories"]
    assert scenario.trace.period_s == 1800
    ordered = load_scenario_file(tmp_path / "fedscale.yaml", devices={"fedscale_capacity": "capacity"})
    np.testing.assert_allclose(ordered.population.bandwidth_mbps, [2.0, 3.0])  # entries a, b in sorted order
    with pytest.raises(SpecError, match="match: client_id needs a 'fedscale_behavior' trace"):
        load_scenario_file(tmp_path / "fedscale.yaml", trace={"diurnal": {}})


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "change, match",
    [
        (
            ("speed_tiers: 2", "speed_tier: 2"),
            r"speed_tier: unknown key 'speed_tier'; allowed keys: name, .*speed_tiers",
        ),
        (
            ("{synthetic: {n_devices: 400}}", "{synthetic: {n_device: 400}}"),
            r"devices\.synthetic\.n_device: unknown key 'n_device'; allowed keys: n_devices",
        ),
        (
            ("{synthetic: {n_devices: 400}}", "{synthetic: {n_devices: 400}, csv: d.csv}"),
            r"devices: expected exactly one of the keys synthetic, csv, fedscale_capacity, venn_client_table; "
            r"found synthetic, csv",
        ),
        (
            ("{synthetic: {n_devices: 400}}", "{synthetic: {n_devices: 400}, period_s: 5}"),
            r"devices\.period_s: unknown key 'period_s'; allowed keys: synthetic, synthetic_attributes",
        ),
        (
            ("{synthetic: {n_devices: 400}}", "{synth: {n_devices: 400}}"),
            r"devices\.synth: unknown key 'synth'; expected one of the sources synthetic, csv",
        ),
        (("amplitude: 0.3", "amplitud: 0.3"), r"trace\.diurnal\.amplitud: unknown key 'amplitud'"),
        (("amplitude: 0.3", "amplitude: 1.5"), r"trace\.diurnal\.amplitude: expected a number >= 0 and < 1, got 1\.5"),
        (
            ("name: big-ram", "name: big-ram, priority: 3"),
            r"workload\.jobs\[1\]\.priority: unknown key 'priority'; allowed keys: arrival_s, requirement",
        ),
        (("participants: 4", "participants: 0"), r"workload\.jobs\[1\]\.participants: expected an integer >= 1, got 0"),
        (
            ("participants: 4", "participants: four"),
            r"workload\.jobs\[1\]\.participants: expected an integer >= 1, got 'four'",
        ),
        (("participants: 4", "participants: 2.5"), r"workload\.jobs\[1\]\.participants: expected an integer"),
        (("participants: 4, ", ""), r"workload\.jobs\[1\]: missing key 'participants'"),
        (("deadline_s: 300", "deadline_s: -1"), r"workload\.jobs\[1\]\.deadline_s: expected a number > 0"),
        (("quorum: 0.8", "quorum: 1.2"), r"workload\.jobs\[0\]\.quorum: expected a number > 0 and <= 1"),
        (
            ("workload_s: 30, model_size_mb: 5", "workload_s: 0, model_size_mb: 0"),
            r"workload\.jobs\[0\]\.workload_s: must be > 0 when model_size_mb is 0",
        ),
        (
            ("requirement: general", "requirement: gpu_rich"),
            r"workload\.jobs\[0\]\.requirement: unknown category 'gpu_rich'",
        ),
        (
            ("attr: ram_gb", "attr: gpu_cores"),
            r"workload\.jobs\[1\]\.requirement: requirement gpu_cores>=8 names the device attribute 'gpu_cores', "
            r"which the devices do not carry",
        ),
        (('op: ">="', 'op: "=>"'), r"workload\.jobs\[1\]\.requirement: 'op' must be one of"),
        (("name: big-ram", "name: job0"), r"workload\.jobs\[1\]\.name: duplicate job name 'job0'"),
        (("name: test/basic-v0", "name: 7"), r"name: expected a non-empty string, got 7"),
    ],
)
def test_mistakes_name_the_file_and_field(tmp_path, change, match):
    old, new = change
    assert old in BASIC
    path = write(tmp_path / "bad.yaml", BASIC.replace(old, new, 1))
    with pytest.raises(SpecError, match=match) as info:
        load_scenario_file(path)
    assert str(info.value).startswith(str(path) + ": ")
    assert info.value.source == str(path)
    assert validate_file(path) == [str(info.value)]


def test_no_eligible_device_is_an_error_naming_the_file(tmp_path):
    path = hand_files(
        tmp_path,
        jobs="""\
        - {arrival_s: 0, requirement: general, participants: 1, rounds: 1, deadline_s: 600}
        - {arrival_s: 0, requirement: {all: [memory_rich, {attr: ram_gb, op: ">=", value: 8}]}, participants: 1,
           rounds: 1, deadline_s: 600, name: impossible}
    """,
    )
    # Only device 0 is memory-rich with RAM >= 8 GB; take it out of the trace.
    write(tmp_path / "data" / "trace.csv", "device,start_s,end_s\n1,0,900\n2,60,900\n")
    with pytest.raises(
        SpecError, match=r"no device that checks in satisfies .*job 'impossible' could never run"
    ) as info:
        load_scenario_file(path)
    assert str(info.value).startswith(f"{path}: workload.jobs[1].requirement: ")


def test_errors_in_data_files_name_both_files(tmp_path):
    path = hand_files(tmp_path)
    write(tmp_path / "data" / "trace.csv", "device,start_s,end_s\n0,0,900\n1,500,400\n")
    with pytest.raises(SpecError) as info:
        load_scenario_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}: trace.csv: ")
    assert (
        f"{tmp_path / 'data' / 'trace.csv'}: line 3, column 'end_s': end_s 400.0 is not after start_s 500.0" in message
    )
    write(tmp_path / "data" / "trace.csv", "device,start_s,end_s\n9,0,900\n")
    with pytest.raises(SpecError, match=r"trace\.csv: .*line 2, column 'device': device 9 is not in the population"):
        load_scenario_file(path)
    (tmp_path / "data" / "devices.csv").unlink()
    with pytest.raises(SpecError, match=r"hand\.yaml: devices\.csv: file not found: .*devices\.csv"):
        load_scenario_file(path)


@pytest.mark.parametrize(
    "name, text, match",
    [
        ("empty.yaml", "", r"empty\.yaml: the file is empty"),
        ("list.yaml", "- 1\n- 2\n", r"list\.yaml: the top level must be a mapping"),
        (
            "syntax.yaml",
            "name: a\ndevices: {synthetic: {n_devices: 3}\n",
            r"syntax\.yaml: line \d+, column \d+: invalid YAML",
        ),
        ("dup.yaml", "name: a\nname: b\n", r"dup\.yaml: line 2, column 1: invalid YAML: duplicate key 'name'"),
        ("dup.json", '{"name": "a", "name": "b"}', r"dup\.json: invalid JSON: duplicate key 'name'"),
        ("bad.json", '{"name": "a",}', r"bad\.json: line 1, column \d+: invalid JSON"),
        ("scenario.txt", "name: a\n", r"scenario\.txt: expected a \.yaml, \.yml, \.json file"),
        (
            "no-devices.yaml",
            "workload: {jobs: [{arrival_s: 0, requirement: general, participants: 1, rounds: 1, deadline_s: 1}]}\n",
            r"no-devices\.yaml: missing key 'devices'",
        ),
    ],
)
def test_unreadable_files(tmp_path, name, text, match):
    path = write(tmp_path / name, text)
    with pytest.raises(SpecError, match=match):
        load_scenario_file(path)
    with pytest.raises(SpecError, match=r"missing\.yaml: file not found"):
        load_scenario_file(tmp_path / "missing.yaml")


def test_validate_reports_every_problem(tmp_path):
    assert validate_file(write(tmp_path / "good.yaml", BASIC)) == []
    bad = BASIC.replace("speed_tiers: 2", "speed_tiers: 0\ncolour: blue").replace("participants: 5", "participants: -1")
    bad = bad.replace("deadline_s: 300, name", "deadline_s: 0, name").replace("n_devices: 400", "n_devices: x")
    problems = validate_file(write(tmp_path / "bad.yaml", bad))
    assert len(problems) == 5, problems
    for where in (
        "colour: unknown key",
        "speed_tiers: expected an integer >= 1",
        "workload.jobs[0].participants",
        "workload.jobs[1].deadline_s",
        "devices.synthetic.n_devices",
    ):
        assert any(f"bad.yaml: {where}" in p for p in problems), (where, problems)
    assert validate_file(write(tmp_path / "jobs.yaml", "jobs: [{arrival_s: 0}]\n")) == [
        f"{tmp_path / 'jobs.yaml'}: jobs[0]: missing key 'requirement' (required keys: arrival_s, requirement, "
        "participants, rounds, deadline_s)"
    ]
    assert validate_file(tmp_path / "nothing.yaml") == [f"{tmp_path / 'nothing.yaml'}: file not found"]


# ------------------------------------------------------------------------- registry


def test_register_scenario_file(tmp_path, registry):
    path = write(tmp_path / "basic.yaml", BASIC)
    assert register_scenario_file(path) == "test/basic-v0"
    assert "test/basic-v0" in registered_scenarios()
    scenario = make_scenario("test/basic-v0", seed=2, horizon_s=100.0)
    assert scenario.name == "test/basic-v0" and scenario.seed == 2 and scenario.horizon_s == 100.0
    assert register_scenario_file(path, name="test/renamed-v3") == "test/renamed-v3"
    assert make_scenario("test/renamed-v3").name == "test/renamed-v3"
    with pytest.raises(SpecError, match="already registered"):
        register_scenario_file(path)
    register_scenario_file(path, overwrite=True)
    with pytest.raises(SpecError, match="end in a version"):
        register_scenario_file(path, name="test/unversioned")
    unnamed = write(tmp_path / "unnamed.yaml", BASIC.replace("name: test/basic-v0\n", ""))
    with pytest.raises(SpecError, match=r"unnamed\.yaml: name: the file has no 'name'"):
        register_scenario_file(unnamed)
    broken = write(tmp_path / "broken.yaml", BASIC.replace("participants: 5", "participants: 0"))
    with pytest.raises(SpecError, match=r"broken\.yaml: workload\.jobs\[0\]\.participants"):
        register_scenario_file(broken, name="test/broken-v0")
    assert "test/broken-v0" not in registered_scenarios()


def test_make_scenario_takes_a_path(tmp_path):
    path = write(tmp_path / "basic.yaml", BASIC)
    scenario = make_scenario(str(path), seed=1, speed_tiers=3)
    assert scenario.name == "test/basic-v0" and scenario.speed_tiers == 3


# ------------------------------------------------------------------------- examples


@pytest.mark.parametrize("name", ["campus-v0.yaml", "hand-trace-v0.yaml"])
def test_examples_load_and_run(name, registry):
    path = EXAMPLES / name
    assert validate_file(path) == []
    scenario = load_scenario_file(path, seed=0)
    assert scenario.name == f"mylab/{name.removesuffix('.yaml')}"
    result = run_policy(scenario, make_policy("fifo"))
    assert result.finished.all(), [j.name for j in result.jobs if not j.finished]
    assert register_scenario_file(path) == scenario.name
    assert make_scenario(scenario.name, seed=1).seed == 1


def test_campus_example_has_overlapping_requirements():
    scenario = load_scenario_file(EXAMPLES / "campus-v0.yaml")
    assert 3000 >= len(scenario.population) >= 1000 and 6 <= len(scenario.workload) <= 10
    requirements = [job.requirement for job in scenario.workload.jobs]
    assert any(isinstance(r, dict) and "attr" in r for r in requirements)
    assert len({json.dumps(r, sort_keys=True) for r in requirements}) >= 5


# ------------------------------------------- the Venn authors' files: jobs CSV, names, mappings


def six_category_files(folder: Path) -> None:
    """The authors' three files with six eligibility categories (5: npu, 6: tablet)."""
    rows = [(k, 60.0 * k, 60.0 * k + 3000) for k in range(8)]
    pd.DataFrame(rows, columns=["ID", "start", "end"]).to_csv(folder / "clients.csv")
    dump(folder / "eligibility", [[1, 2, 5], [1, 3], [1, 6], [1, 2, 3, 4, 5]])
    dump(
        folder / "capacity",
        {1: {"computation": 39.0, "communication": 6868.0}, 2: {"computation": 117.0, "communication": 27472.0}},
    )


SIX = """\
devices:
  venn_client_table: {table: clients.csv, eligibility: eligibility, capacity: capacity, compute_reference: 78}
  category_names: [general, gpu, big_ram, high_performance, npu, tablet]
workload: {csv: jobs.csv}
task_noise_log_sd: 0
"""

SIX_JOBS = """\
arrival_s,requirement,participants,rounds,deadline_s,workload_s,comm_s
0,npu,1,2,3600,30,10
0,2,1,1,3600,30,10
30,"{any: [tablet, big_ram]}",1,1,3600,30,10
"""


def test_jobs_csv_and_named_categories_in_a_scenario(tmp_path):
    six_category_files(tmp_path)
    write(tmp_path / "jobs.csv", SIX_JOBS)
    scenario = load_scenario_file(write(tmp_path / "six.yaml", SIX))
    assert scenario.workload.name == "jobs" and len(scenario.workload) == 3
    np.testing.assert_allclose(scenario.population.compute_factor[:2], [0.5, 1.5])  # computation / 78
    assert scenario.workload.jobs[0].model_size_mb == pytest.approx(17.17)
    result = run_policy(scenario, make_policy("fifo"))
    assert result.finished.all()
    # Results show the scenario's names, not the paper's ('compute_rich' for 2).
    assert sorted({j.requirement for j in result.jobs}) == ["(tablet | big_ram)", "gpu", "npu"]
    # The same jobs in a workload file, and a jobs list using names and numbers.
    write(tmp_path / "sub" / "w.yaml", "csv: ../jobs.csv\nname: named\n")
    names = ["general", "gpu", "big_ram", "high_performance", "npu", "tablet"]
    assert load_workload_file(tmp_path / "sub" / "w.yaml", category_names=names).name == "named"
    with pytest.raises(
        SpecError, match=r"w\.yaml: csv: .*jobs\.csv: line 2, column 'requirement': unknown category 'npu'"
    ):
        load_workload_file(tmp_path / "sub" / "w.yaml")  # without names: the paper's four only
    from_file = load_scenario_file(tmp_path / "six.yaml", workload={"file": "sub/w.yaml"})
    assert from_file.workload.jobs == scenario.workload.jobs
    listed = load_scenario_file(
        tmp_path / "six.yaml",
        workload={
            "jobs": [
                {"arrival_s": 0, "requirement": 6, "participants": 1, "rounds": 1, "deadline_s": 600, "comm_s": 10},
                {"arrival_s": 0, "requirement": {"not": "npu"}, "participants": 1, "rounds": 1, "deadline_s": 600},
            ]
        },
    )
    assert listed.workload.jobs[0].requirement == {"category": 6, "name": "tablet"}
    assert listed.workload.jobs[0].model_size_mb == pytest.approx(17.17)
    assert [j.requirement for j in run_policy(listed, make_policy("fifo")).jobs] == ["tablet", "not(npu)"]


def test_paper_workload_takes_the_scenario_names(tmp_path):
    write(
        tmp_path / "p.yaml",
        """\
        devices: {synthetic: {n_devices: 300}, category_names: [all, fast, roomy, top]}
        workload: {paper: {mix: even, n_jobs: 6, scale: 0.02}}
        """,
    )
    scenario = load_scenario_file(tmp_path / "p.yaml")
    from venn_gym import requirements

    assert {requirements.label(j.requirement) for j in scenario.workload.jobs} <= {"all", "fast", "roomy", "top"}


@pytest.mark.parametrize(
    "change, jobs, match",
    [
        (
            (
                "category_names: [general, gpu, big_ram, high_performance, npu, tablet]",
                "category_names: [general, gpu]",
            ),
            SIX_JOBS.split("0,npu")[0] + "0,gpu,1,1,60,30,10\n",
            r"devices\.category_names: names 2 categories, but the devices carry category 6",
        ),
        (
            ("category_names: [general, gpu, big_ram, high_performance, npu, tablet]", "category_names: [a, b, a]"),
            SIX_JOBS,
            r"devices\.category_names\[2\]: name 'a' appears twice",
        ),
        (
            ("category_names: [general, gpu, big_ram, high_performance, npu, tablet]", "category_names: general"),
            SIX_JOBS,
            r"devices\.category_names: expected a non-empty list of category names",
        ),
        (
            ("", ""),
            SIX_JOBS.replace("0,npu", "0,compute_rich"),
            r"six\.yaml: workload\.csv: .*jobs\.csv: line 2, column 'requirement': unknown category 'compute_rich'; "
            r"this scenario's categories are 1 general, 2 gpu",
        ),
        (
            ("", ""),
            SIX_JOBS.replace("0,2,1", "0,2,-1"),
            r"workload\.csv: .*jobs\.csv: line 3, column 'participants': expected an integer >= 1, got '-1'",
        ),
        (
            ("workload: {csv: jobs.csv}", "workload: {csv: nojobs.csv}"),
            SIX_JOBS,
            r"workload\.csv: file not found: .*nojobs\.csv",
        ),
        (
            ("compute_reference: 78", "compute_reference: 0"),
            SIX_JOBS,
            r"devices\.venn_client_table\.compute_reference: expected a number > 0",
        ),
    ],
)
def test_named_category_and_jobs_csv_mistakes(tmp_path, change, jobs, match):
    six_category_files(tmp_path)
    write(tmp_path / "jobs.csv", jobs)
    path = write(tmp_path / "six.yaml", SIX.replace(*change))
    with pytest.raises(SpecError, match=match) as info:
        load_scenario_file(path)
    assert str(info.value).startswith(str(path) + ": ")


def test_named_category_unknown_in_a_jobs_list(tmp_path):
    six_category_files(tmp_path)
    path = write(
        tmp_path / "six.yaml",
        SIX.replace(
            "workload: {csv: jobs.csv}",
            textwrap.dedent("""\
        workload:
          jobs:
            - {arrival_s: 0, requirement: {all: [gpu, memory_rich]}, participants: 1, rounds: 1, deadline_s: 60}
            - {arrival_s: 0, requirement: 1, participants: 1, rounds: 1, deadline_s: 60, comm_s: 1,
               model_size_mb: 2}
        """),
        ),
    )
    problems = validate_file(path)
    assert len(problems) == 2, problems
    assert problems[0].endswith(
        "workload.jobs[0].requirement.all[1]: unknown category 'memory_rich'; this "
        "scenario's categories are 1 general, 2 gpu, 3 big_ram, 4 high_performance, 5 npu, "
        "6 tablet (or any_device)"
    )
    assert "workload.jobs[1].comm_s: give model_size_mb or comm_s, not both" in problems[1]


AIBENCH = """\
device_id,model,cpu_score,ram_gb,fp16_memory_score,android_version,inference_ms
0,Phone A,20.2,16.0,2100.0,13.0,20.0
1,Phone B,18.4,8.0,2000.0,13.0,60.0
2,Phone C,6.1,4.0,900.0,10.0,100.0
3,Phone D,9.0,6.0,1200.0,11.0,63.0
"""

AIBENCH_YAML = """\
devices:
  csv: aibench.csv
  columns:
    compute_factor: {from: inference_ms, scale: 0.0159}
    bandwidth_mbps: {value: 20}
    ram_gb: ram_gb
    os_version: android_version
  synthetic_attributes: [categories]
trace: {diurnal: {checkins_per_day: 400}}
workload:
  jobs:
    - {arrival_s: 0, requirement: {attr: os_version, op: ">=", value: 13}, participants: 1, rounds: 1,
       deadline_s: 600}
"""


def test_raw_device_table_in_a_scenario(tmp_path):
    write(tmp_path / "aibench.csv", AIBENCH)
    scenario = load_scenario_file(write(tmp_path / "ai.yaml", AIBENCH_YAML))
    pop = scenario.population
    np.testing.assert_allclose(pop.compute_factor, np.array([20, 60, 100, 63]) * 0.0159)
    np.testing.assert_allclose(pop.bandwidth_mbps, 20)
    assert sorted(pop.attributes) == ["categories", "os_version", "ram_gb"]
    np.testing.assert_allclose(pop.attributes["os_version"], [13, 13, 10, 11])
    median = load_scenario_file(
        tmp_path / "ai.yaml",
        devices={
            "csv": "aibench.csv",
            "columns": {
                "compute_factor": {"from": "inference_ms", "relative_to": "median"},
                "bandwidth_mbps": 20,
                "os_version": "android_version",
            },
        },
    )
    np.testing.assert_allclose(np.median(median.population.compute_factor), 1.0)


@pytest.mark.parametrize(
    "change, match",
    [
        (
            ("{value: 20}", "{value: 20, scale: 2}"),
            r"ai\.yaml: devices\.columns\.bandwidth_mbps: 'value' takes no other",
        ),
        (
            ("ram_gb: ram_gb", "ram_gb: memory"),
            r"ai\.yaml: devices\.csv: .*aibench\.csv: line 1 \(header\): missing column\(s\) \['memory'\].*"
            r"columns\.ram_gb reads column 'memory'",
        ),
        (
            ("    bandwidth_mbps: {value: 20}\n", ""),
            r"ai\.yaml: devices\.columns: missing field\(s\) \['bandwidth_mbps'\]",
        ),
        (("value: 13}", "value: 14}"), r"workload\.jobs\[0\]\.requirement: no device that checks in satisfies"),
    ],
)
def test_raw_device_table_mistakes(tmp_path, change, match):
    write(tmp_path / "aibench.csv", AIBENCH)
    assert change[0] in AIBENCH_YAML
    path = write(tmp_path / "ai.yaml", AIBENCH_YAML.replace(*change))
    with pytest.raises(SpecError, match=match):
        load_scenario_file(path)
    with pytest.raises(SpecError, match=r"devices\.columns: unknown key 'columns'"):
        load_scenario_file(path, devices={"synthetic": {"n_devices": 5}, "columns": {"compute_factor": 1}})


def test_trace_period_boundary_in_a_scenario(tmp_path):
    path = hand_files(tmp_path)
    write(tmp_path / "data" / "trace.csv", TRACE_CSV + "0,3600,3700\n")
    with pytest.raises(
        SpecError,
        match=r"trace\.csv: .*line 10, column 'start_s': start_s 3600\.0 is not inside the "
        r"period \[0, 3600\) s",
    ):
        load_scenario_file(path)
    scenario = load_scenario_file(path, trace={"csv": "data/trace.csv", "period_s": 3600, "drop_after_period": True})
    assert len(scenario.trace.start) == 8
    with pytest.raises(SpecError, match=r"trace\.drop_after_period: expected true or false, got 'yes'"):
        load_scenario_file(path, trace={"csv": "data/trace.csv", "period_s": 3600, "drop_after_period": "yes"})
    dump(tmp_path / "behave", {1: {"active": [0, 1800], "inactive": [100, 1900], "finish_time": 2000}})
    dump(tmp_path / "capacity", {1: {"computation": 1.0, "communication": 1000.0}})
    fedscale = {"fedscale_behavior": "behave", "period_s": 1800}
    with pytest.raises(SpecError, match=r"trace\.fedscale_behavior: .*client 1: window 1 starts at 1800\.0 s"):
        load_scenario_file(path, devices={"fedscale_capacity": "capacity"}, trace=fedscale)
    with pytest.warns(scenario_module.ScenarioWarning, match=r"asks for \d+ participants but only 1 devices"):
        kept = load_scenario_file(
            path,
            devices={"fedscale_capacity": "capacity", "synthetic_attributes": True},
            trace={**fedscale, "drop_after_period": True},
        )
    assert len(kept.trace.start) == 1


def test_validate_warns_when_a_job_asks_for_more_participants_than_eligible_devices(tmp_path, capsys):
    from venn_gym.cli import main

    path = write(tmp_path / "few.yaml", BASIC.replace("n_devices: 400", "n_devices: 3"))
    assert main(["scenarios", "validate", str(path)]) == 0
    said = capsys.readouterr().out
    assert "warning: test/basic-v0: job " in said and "participants but only" in said and ": OK." in said


def test_authors_jobs_example(registry):
    path = EXAMPLES / "authors-jobs-v0.yaml"
    assert validate_file(path) == []
    scenario = load_scenario_file(path)
    result = run_policy(scenario, make_policy("venn"))
    assert result.finished.all()
    assert [j.requirement for j in result.jobs] == ["general", "fast", "roomy", "flagship", "general"]
    assert all(j.model_size_mb == pytest.approx(17.17) for j in scenario.workload.jobs)
    assert register_scenario_file(path) == "mylab/authors-jobs-v0"


# ----------------------------------------------------------- lasting registration
@pytest.fixture
def fresh_registry(monkeypatch):
    """A registry and discovery state of this test's own (restored afterwards)."""
    import venn_gym.scenario_files as files_module

    monkeypatch.setattr(files_module, "_discovered", False)
    with restored_registry():
        yield files_module


def test_scenario_folder_is_searched_and_a_broken_file_does_not_hide_the_others(tmp_path, monkeypatch, fresh_registry):
    shutil.copy(EXAMPLES / "campus-v0.yaml", tmp_path / "campus-v0.yaml")
    (tmp_path / "broken.yaml").write_text("name: not-versioned\n")
    (tmp_path / "notes.txt").write_text("not a scenario")
    monkeypatch.setenv("VENN_GYM_SCENARIO_PATH", str(tmp_path))
    scenario = venn_gym.make_scenario("mylab/campus-v0", seed=0)  # discovered at first need
    assert scenario.name == "mylab/campus-v0"
    entry = venn_gym.registered_scenarios()["mylab/campus-v0"]
    assert entry.source == f"file {tmp_path / 'campus-v0.yaml'}"
    assert len(fresh_registry.discovery_problems) == 1 and "broken.yaml" in fresh_registry.discovery_problems[0]


def test_cli_finds_folder_scenarios(tmp_path, monkeypatch, capsys, fresh_registry):
    from venn_gym.cli import main

    shutil.copy(EXAMPLES / "campus-v0.yaml", tmp_path / "campus-v0.yaml")
    monkeypatch.setenv("VENN_GYM_SCENARIO_PATH", str(tmp_path))
    assert main(["scenarios", "list"]) == 0
    listed = capsys.readouterr().out
    assert "mylab/campus-v0" in listed and f"[file {tmp_path / 'campus-v0.yaml'}]" in listed
    assert "paper/even-v1" in listed and "[built-in]" in listed


def test_entry_points_register_a_packages_scenarios(monkeypatch, fresh_registry):
    from importlib import metadata

    def register():
        venn_gym.register_scenario(
            "pkg/shop-v0", lambda seed=0, **o: venn_gym.make_scenario("paper/low-v1", seed=seed, scale=0.02, **o)
        )

    def broken():
        raise RuntimeError("no data shipped")

    class Entry:
        def __init__(self, name, function):
            self.name, self.value, self._function = name, f"pkg:{name}", function

        def load(self):
            return self._function

    monkeypatch.setattr(
        metadata,
        "entry_points",
        lambda group: [Entry("shop", register), Entry("broken", broken)] if group == "venn_gym.scenarios" else [],
    )
    monkeypatch.setenv("VENN_GYM_SCENARIO_PATH", "")
    assert venn_gym.make_scenario("pkg/shop-v0", seed=1).seed == 1
    assert venn_gym.registered_scenarios()["pkg/shop-v0"].source == "entry point shop (pkg:shop)"
    assert fresh_registry.discovery_problems == ["entry point broken (pkg:broken): RuntimeError: no data shipped"]


def test_unknown_scenario_says_how_to_register_one(monkeypatch, fresh_registry):
    monkeypatch.setenv("VENN_GYM_SCENARIO_PATH", "")
    with pytest.raises(venn_gym.SpecError, match="scenarios folder"):
        venn_gym.make_scenario("mylab/nothing-v0")


@pytest.mark.parametrize("where", ["name", "description", "workload"])
def test_a_billion_laughs_file_is_refused_before_it_is_walked(tmp_path, where):
    """Nested YAML aliases expand to 9**9 values: refused by size, wherever they hang (the schema
    check alone would walk every one of them)."""
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi")
    )
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb + f"{where}: *i\n")
    with pytest.raises(SpecError, match="expands to more than 1,000,000 values"):
        load_scenario_file(path)


def test_libyaml_reads_every_example_file_as_the_python_reader_does():
    # The reader parses with libyaml where PyYAML has it; its own rules (duplicate keys refused,
    # 1e5 as a number) must read the same in either parser.
    import yaml

    from venn_gym.scenario_files import _Loader

    class PythonLoader(yaml.SafeLoader):
        yaml_constructors = _Loader.yaml_constructors
        yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers

    files = sorted((Path(__file__).parents[1] / "examples" / "scenarios").glob("*.yaml"))
    texts = [f.read_text() for f in files] + ["a: 1e5\nb: [1, 2.5, .inf]\nc: {d: null, e: true}\n"]
    assert len(texts) >= 5
    for text in texts:
        assert yaml.load(text, Loader=_Loader) == yaml.load(text, Loader=PythonLoader)
    assert yaml.load("a: 1e5\n", Loader=_Loader) == {"a": 100000.0}
    with pytest.raises(yaml.YAMLError, match="duplicate key 'a'"):
        yaml.load("a: 1\na: 2\n", Loader=PythonLoader)
