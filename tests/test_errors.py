"""Malformed inputs of the core raise clear errors (SpecError / IllegalActionError)."""

from __future__ import annotations

import numpy as np
import pytest

import venn_gym
import venn_gym.devices
import venn_gym.limits
import venn_gym.trace
from venn_gym import baselines, requirements
from venn_gym.devices import DevicePopulation
from venn_gym.errors import IllegalActionError, SpecError
from venn_gym.jobs import JobSpec, Workload
from venn_gym.simulation import Simulation
from venn_gym.trace import TableTrace


def spec(**changes) -> JobSpec:
    base = dict(arrival_s=0.0, requirement="general", participants=2, rounds=1, deadline_s=100.0)
    return JobSpec(**{**base, **changes})


# ---------------------------------------------------------------- JobSpec


@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(participants=0), "participants"),
        (dict(participants=-3), "participants"),
        (dict(participants=2.5), "participants"),
        (dict(rounds=0), "rounds"),
        (dict(quorum=1.5), "quorum"),
        (dict(quorum=0.0), "quorum"),
        (dict(mode="batch"), "mode"),
        (dict(deadline_s=0.0), "deadline_s"),
        (dict(arrival_s=-1.0), "arrival_s"),
        (dict(arrival_s=float("inf")), "arrival_s"),
        (dict(workload_s=-1.0), "workload_s"),
        (dict(mode="async", buffer_size=0), "buffer_size"),
        (dict(mode="sync", buffer_size=5), "buffer_size"),  # refused, not ignored: the author meant async
    ],
)
def test_bad_jobspec(changes, field):
    with pytest.raises(SpecError) as info:
        spec(name="j1", **changes)
    assert field in str(info.value)
    assert "j1" in str(info.value)
    assert info.value.where.endswith(field)


def test_empty_workload():
    with pytest.raises(SpecError, match="at least one job"):
        Workload(())


# ----------------------------------------------------------- requirements


@pytest.mark.parametrize(
    "requirement, message",
    [
        ("gpu_rich", "unknown category"),
        (7, "category must be 1-4"),
        ({"category": "nope"}, "unknown category"),
        ({"attr": "ram_gb", "op": "=>", "value": 8}, "'op' must be one of"),
        ({"attr": "ram_gb", "op": ">=", "value": 10**400}, "too large for a number"),
        ({"attr": "ram_gb", "op": ">=", "value": "8"}, "'value' must be a number"),
        ({"attr": "ram_gb", "op": ">=", "value": 8, "unit": "GB"}, "unexpected keys"),
        ({"all": []}, "non-empty list"),
        ({"xor": ["general"]}, "unknown requirement form"),
        ({}, "expected a category name"),
        ([1, 2], "expected a category name"),
    ],
)
def test_bad_requirement_forms(requirement, message):
    with pytest.raises(SpecError, match=message):
        requirements.normalize(requirement)
    with pytest.raises(SpecError, match=message):
        spec(requirement=requirement)


def test_bad_requirement_is_located_in_the_job():
    with pytest.raises(SpecError) as info:
        spec(requirement={"all": ["general", {"attr": "ram_gb", "op": "~", "value": 1}]}, name="big")
    assert "big" in str(info.value) and "all[1]" in str(info.value)


def test_unknown_attribute_at_evaluation():
    attrs = {"categories": np.array([1, 3], dtype=np.uint8)}
    with pytest.raises(SpecError, match="'ram_gb'"):
        requirements.evaluate({"attr": "ram_gb", "op": ">=", "value": 8}, attrs, 2)
    with pytest.raises(SpecError, match="'categories'"):
        requirements.evaluate("general", {"ram_gb": np.array([4.0, 8.0])}, 2)


def test_unknown_attribute_in_a_scenario(tiny):
    pop = tiny.population([1.0, 1.0])
    with pytest.raises(SpecError, match="os_version"):
        tiny.scenario(
            pop, [(0, 100, 0), (5, 100, 1)], [tiny.job(0, {"attr": "os_version", "op": ">=", "value": 12}, 1)]
        )


# -------------------------------------------------------------- scenarios


def test_no_device_satisfies_a_job(tiny):
    pop = tiny.population([1.0, 1.0], 8.0, ["G", "C"])
    with pytest.raises(SpecError, match="could never run"):
        tiny.scenario(pop, [(0, 100, 0), (5, 100, 1)], [tiny.job(0, "high_performance", 1, name="hp")])


def test_eligible_device_that_never_checks_in(tiny):
    # d1 is the only H device but the trace never names it.
    pop = tiny.population([1.0, 1.0], 8.0, ["G", "H"])
    with pytest.raises(SpecError, match="could never run"):
        tiny.scenario(pop, [(0, 100, 0)], [tiny.job(0, "high_performance", 1)])


def test_trace_names_a_device_beyond_the_population(tiny):
    pop = tiny.population([1.0])
    with pytest.raises(SpecError, match="population has only 1"):
        tiny.scenario(pop, [(0, 100, 0), (5, 100, 3)], [tiny.job(0, "general", 1)])


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(speed_tiers=0), "speed_tiers"),
        (dict(task_noise_log_sd=-0.1), "task_noise_log_sd"),
        (dict(task_noise_log_sd=1000.0), r"task_noise_log_sd must be in \[0, 5.0\]"),
        (dict(horizon_s=0.0), "horizon_s"),
    ],
)
def test_bad_scenario_settings(tiny, settings, message):
    pop = tiny.population([1.0])
    with pytest.raises(SpecError, match=message):
        tiny.scenario(pop, [(0, 100, 0)], [tiny.job(0, "general", 1)], **settings)


def test_unknown_scenario_name():
    with pytest.raises(SpecError, match="unknown scenario 'paper/nope-v0'"):
        venn_gym.make_scenario("paper/nope-v0")


def test_bad_scenario_option():
    with pytest.raises(SpecError, match="scale"):
        venn_gym.make_scenario("paper/even-v0", scale=0.0)
    with pytest.raises(SpecError, match="bad options"):
        venn_gym.make_scenario("paper/even-v0", colour="red")


def test_unversioned_scenario_registration():
    with pytest.raises(SpecError, match="version"):
        venn_gym.register_scenario("mylab/city", lambda seed=0: None)


# ------------------------------------------------------------------ traces


@pytest.mark.parametrize(
    "start, end, device, message",
    [
        ([0.0, 10.0], [5.0, 10.0], [0, 1], "not after start"),
        ([0.0, 10.0], [5.0, 9.0], [0, 1], "not after start"),
        ([0.0], [float("nan")], [0], "finite"),
        ([-1.0], [5.0], [0], "outside the period"),
        ([200.0], [300.0], [0], "outside the period"),
        ([0.0], [5.0], [-1], "device indices"),
        ([0.0, 1.0], [5.0], [0, 1], "equal length"),
        ([], [], [], "non-empty"),
    ],
)
def test_bad_table_trace(start, end, device, message):
    with pytest.raises(SpecError, match=message):
        TableTrace(np.array(start), np.array(end), np.array(device, dtype=np.int64), period_s=100.0)


def test_duplicate_rows_and_overlapping_windows_are_warned_of():
    from venn_gym.errors import ScenarioWarning

    with pytest.warns(ScenarioWarning, match=r"t.csv: 1 row\(s\) repeat another row exactly \(first: row 2 = row 1"):
        TableTrace(
            start=np.array([0.0, 10, 10]),
            end=np.array([5.0, 30, 30]),
            device=np.array([0, 1, 1]),
            period_s=100,
            source="t.csv",
        )
    with pytest.warns(ScenarioWarning, match=r"1 check-in window\(s\) overlap .* \(first: rows 0 and 2\)"):
        TableTrace(
            start=np.array([0.0, 0, 15]),
            end=np.array([20.0, 90, 25]),
            device=np.array([0, 1, 0]),
            period_s=100,
            source="t.csv",
        )
    with pytest.warns(ScenarioWarning, match=r"first: device 0 across the period"):
        TableTrace(start=np.array([10.0, 90]), end=np.array([20.0, 115]), device=np.array([0, 0]), period_s=100)
    import warnings

    with warnings.catch_warnings():  # back-to-back windows, and one device's windows beside another's, are fine
        warnings.simplefilter("error")
        TableTrace(
            start=np.array([0.0, 20, 5, 90]),
            end=np.array([20.0, 40, 95, 100]),
            device=np.array([0, 0, 1, 0]),
            period_s=100,
        )


def test_bad_trace_row_is_located():
    with pytest.raises(SpecError) as info:
        TableTrace(np.array([0.0, 10.0, 20.0]), np.array([5.0, 15.0, 20.0]), np.array([0, 1, 2]), period_s=100.0)
    assert info.value.where == "row 2"


# --------------------------------------------------------------- devices


@pytest.mark.parametrize("compute", [[1.0, 0.0], [1.0, -2.0], [1.0, float("nan")], [float("inf"), 1.0]])
def test_non_positive_compute_factor(compute):
    with pytest.raises(SpecError, match="compute_factor"):
        DevicePopulation(np.array(compute), np.array([8.0, 8.0]))


def test_bad_bandwidth_and_attribute_lengths():
    with pytest.raises(SpecError, match="bandwidth_mbps"):
        DevicePopulation(np.array([1.0, 1.0]), np.array([8.0, 0.0]))
    with pytest.raises(SpecError, match="bandwidth_mbps"):
        DevicePopulation(np.array([1.0, 1.0]), np.array([8.0]))
    with pytest.raises(SpecError, match="categories"):
        DevicePopulation(np.array([1.0, 1.0]), np.array([8.0, 8.0]), {"categories": np.array([1])})
    with pytest.raises(SpecError, match="empty"):
        DevicePopulation(np.array([]), np.array([]))


# ---------------------------------------------------------------- policies


@pytest.mark.parametrize(
    "name, message",
    [
        ("optimal", "unknown policy 'optimal'"),
        ("fifo:e=1", "bad policy option"),
        ("venn:x=1", "bad policy option"),
        ("venn:e=abc", "needs a number"),
    ],
)
def test_bad_policy_spec(name, message):
    with pytest.raises(SpecError, match=message):
        baselines.make_policy(name)


def test_make_policy_accepts_every_listed_name():
    for name in baselines.POLICIES:
        assert baselines.make_policy(name) is not None
    assert baselines.make_policy("venn:e=1").fairness == 1.0


# ------------------------------------------------------------- simulation


def three_job_sim(tiny) -> Simulation:
    pop = tiny.population([1.0] * 3, 8.0, ["G", "C", "H"])
    rows = [(10, 500, 0), (20, 500, 1), (30, 500, 2)]
    jobs = [tiny.job(0, "general", 1), tiny.job(0, "compute_rich", 1), tiny.job(0, "high_performance", 1)]
    return Simulation(tiny.scenario(pop, rows, jobs))


def test_set_scores_accepts_both_shapes(tiny):
    sim = three_job_sim(tiny)
    sim.set_scores(np.zeros(3))
    sim.set_scores(np.zeros((sim.static.n_classes, 3)))
    sim.set_scores(np.array([0.0, -np.inf, 1.0]))  # -inf means never


@pytest.mark.parametrize(
    "make_scores, message",
    [
        (lambda n_classes: np.zeros(2), "shape"),
        (lambda n_classes: np.zeros(4), "shape"),
        (lambda n_classes: np.zeros((1, 3)), "shape"),
        (lambda n_classes: np.zeros((n_classes, 4)), "shape"),
        (lambda n_classes: np.zeros((n_classes + 1, 3)), "shape"),
        (lambda n_classes: np.zeros((n_classes, 3, 1)), "shape"),
        (lambda n_classes: np.array([0.0, np.nan, 1.0]), "NaN"),
        (lambda n_classes: np.array([0.0, np.inf, 1.0]), r"\+inf"),
        (lambda n_classes: np.full((n_classes, 3), np.nan), "NaN"),
    ],
    ids=["short", "long", "one-row", "classes-x-4", "extra-class", "3d", "nan", "posinf", "all-nan"],
)
def test_set_scores_rejects_bad_scores(tiny, make_scores, message):
    sim = three_job_sim(tiny)
    assert sim.static.n_classes == 3
    with pytest.raises(IllegalActionError, match=message):
        sim.set_scores(make_scores(sim.static.n_classes))


def test_device_level_control_errors(tiny):
    sim = three_job_sim(tiny)
    with pytest.raises(IllegalActionError):
        sim.advance(stop_at_choices=0)
    with pytest.raises(IllegalActionError, match="no check-in is pending"):
        sim.decide(0)
    sim.advance()  # the arrivals at t = 0
    sim.set_scores(np.zeros(3))
    assert sim.advance(stop_at_choices=1) == []
    pending = sim.pending_checkin
    assert pending is not None and pending.device == 0 and list(pending.candidates) == [0]
    with pytest.raises(IllegalActionError, match="pending"):
        sim.advance()
    with pytest.raises(IllegalActionError, match="out of range"):
        sim.decide(7)
    with pytest.raises(IllegalActionError, match="not eligible"):
        sim.decide(2)  # a G device for the high_performance job
    sim.decide(0)


# ------------------------------------------------------- inputs that used to hang or crash
def test_requirement_nested_too_deep_is_a_clear_error():
    deep = "general"
    for _ in range(3000):  # deeper than Python's recursion limit
        deep = {"not": deep}
    with pytest.raises(SpecError, match="nested deeper than 32 levels"):
        requirements.normalize(deep)
    with pytest.raises(SpecError, match="nested deeper than 32 levels"):
        requirements.name_categories(deep, ["general", "gpu"])
    with pytest.raises(SpecError, match="nested deeper"):
        spec(requirement=deep)


def test_yaml_bomb_is_reported_without_expanding_it(tmp_path):
    """Nine levels of nine aliases: 387 million leaves if anything walked or printed them all."""
    lines = ["name: test/bomb-v0", 'l0: &l0 ["x","x","x","x","x","x","x","x","x"]']
    for level in range(1, 9):
        lines.append(f"l{level}: &l{level} [" + ",".join([f"*l{level - 1}"] * 9) + "]")
    lines += [
        "devices: {synthetic: {n_devices: *l8}}",
        "workload: {jobs: [{arrival_s: 0, requirement: {any: *l8}, participants: 1, rounds: 1, deadline_s: 60}]}",
    ]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    from venn_gym.scenario_files import validate_file

    problems = validate_file(path)
    assert len(problems) == 1 and "the document expands to more than 1,000,000 values" in problems[0]
    assert len(problems[0]) < 400


def _pool(n=3):
    return DevicePopulation(np.ones(n), np.full(n, 8.0), {"categories": np.full(n, 15, dtype=np.uint8)})


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: TableTrace(start=np.array([0.0]), end=np.array([1.0]), device=np.array([0]), period_s=1e-6),
            "repeats the table 3,600,000,000 times",
        ),
        (
            lambda: TableTrace(
                start=np.array([0.0]), end=np.array([1.0]), device=np.array([99_999_999_999]), period_s=10.0
            ),
            "device index 99,999,999,999 is beyond the limit on devices",
        ),
        (
            lambda: venn_gym.devices.synthetic_population(10**12, np.random.default_rng(0)),
            "n_devices 1,000,000,000,000",
        ),
    ],
)
def test_sizes_that_would_exhaust_time_or_memory_are_refused(make, message):
    with pytest.raises(SpecError, match=message):
        make()


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(speed_tiers=10**9), "speed_tiers 1,000,000,000 is above venn_gym.limits.LIMITS"),
        (dict(trace=venn_gym.trace.DiurnalTrace(n_devices=3, chunk_s=1e-3)), "chunk_s 0.001 is below"),
        (dict(trace=venn_gym.trace.DiurnalTrace(n_devices=3, checkins_per_day=1e15)), "check-ins per chunk"),
    ],
)
def test_scenario_limits(changes, message):
    settings = dict(
        name="test/limits-v0",
        seed=0,
        population=_pool(),
        trace=venn_gym.trace.DiurnalTrace(n_devices=3),
        workload=Workload((spec(),), name="w"),
    )
    with pytest.raises(SpecError, match=message):
        venn_gym.Scenario(**{**settings, **changes})


def test_a_limit_can_be_raised(monkeypatch):
    settings = dict(
        name="test/limits-v0",
        seed=0,
        population=_pool(),
        trace=venn_gym.trace.DiurnalTrace(n_devices=3),
        workload=Workload((spec(),), name="w"),
        speed_tiers=100,
    )
    with pytest.raises(SpecError, match="speed_tiers 100 is above"):
        venn_gym.Scenario(**settings)
    monkeypatch.setitem(venn_gym.limits.LIMITS, "speed_tiers", 128)
    assert venn_gym.Scenario(**settings).speed_tiers == 100


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: TableTrace(start=np.array([0.0]), end=np.array([1.0]), device=np.array([0]), period_s="5"),
            "period_s must be a finite number, got '5'",
        ),
        (
            lambda: venn_gym.trace.DiurnalTrace(n_devices=3, window_log_sd=1000.0),
            r"window_log_sd must be in \[0, 5.0\]",
        ),
        (
            lambda: venn_gym.trace.DiurnalTrace(n_devices=3, checkins_per_day=float("nan")),
            "checkins_per_day must be a finite number",
        ),
    ],
)
def test_trace_settings_from_python_are_checked(make, message):
    with pytest.raises(SpecError, match=message):
        make()
