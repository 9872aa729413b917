"""``device_once_per_round``: a device serves each round of a synchronous job at most once (deployed
FL's rule). Hand-worked cases next to the same scenarios without the rule (the authors' simulator's
and the default), and the validation that goes with it.

Every device: compute 1, bandwidth 8, so a task takes 10 + 80 / 8 = 20 s; quorum 1.0.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import make_population

from venn_gym.errors import ScenarioWarning, SpecError
from venn_gym.jobs import JobSpec, Workload
from venn_gym.scenario import Scenario
from venn_gym.trace import DiurnalTrace

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "scenarios"
ALL_POLICIES = ("random", "fifo", "srsf", "las", "venn", "venn-ref")


def second_visit_scenario(tiny, once, with_b=False):
    """Job A: 2 participants, one round. d0 checks in at 0 (window to 30: its task ends at 20) and
    again at 40; d1 checks in at 100. With ``with_b``, job B (1 participant) arrives at 1.

    without the rule: d0 at 0 -> A, d0 at 40 -> A again: A closes at 60 (B, if any: d1 at 100 -> 120).
    with the rule: d0 at 40 has served A's open round: it goes to the next job (B: done at 60)
      or, alone, stays idle; d1 at 100 -> A: A closes at 120.
    """
    pop = tiny.population([1.0] * 2)
    rows = [(0, 30, 0), (40, 1000, 0), (100, 1000, 1)]
    jobs = [tiny.job(0, "general", 2, name="A")] + ([tiny.job(1, "general", 1, name="B")] if with_b else [])
    return tiny.scenario(pop, rows, jobs, device_once_per_round=once)


@pytest.mark.parametrize("policy", ALL_POLICIES)
@pytest.mark.parametrize("once, jct, devices", [(False, 60.0, [0, 0]), (True, 120.0, [0, 1])])
def test_a_device_checking_in_again_does_not_refill_its_round(tiny, policy, once, jct, devices):
    sim, res = tiny.simulate(second_visit_scenario(tiny, once), policy)
    (job,) = res.jobs
    assert job.jct_s == pytest.approx(jct)
    np.testing.assert_array_equal(sim.assignments()["device"], devices)


@pytest.mark.parametrize(
    "once, jcts, jobs_of_devices", [(False, (60.0, 119.0), [0, 0, 1]), (True, (120.0, 59.0), [0, 1, 0])]
)
def test_the_device_goes_to_the_next_job_in_its_class_order(tiny, once, jcts, jobs_of_devices):
    sim, res = tiny.simulate(second_visit_scenario(tiny, once, with_b=True), "fifo")
    assert tiny.jcts(res) == pytest.approx(jcts)
    np.testing.assert_array_equal(sim.assignments()["job"], jobs_of_devices)


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_a_device_serves_every_round_once(tiny, policy):
    """Two rounds of one participant: d0 serves round 1 (0 -> 20) and, checking in again at 40,
    round 2 (40 -> 60): a new round is a new place."""
    pop = tiny.population([1.0])
    scenario = tiny.scenario(
        pop, [(0, 30, 0), (40, 1000, 0)], [tiny.job(0, "general", 1, rounds=2)], device_once_per_round=True
    )
    sim, res = tiny.simulate(scenario, policy)
    assert res.jobs[0].jct_s == pytest.approx(60.0)
    np.testing.assert_array_equal(sim.assignments()["device"], [0, 0])


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_a_retried_round_takes_the_same_device_again(tiny, policy):
    """2 participants, deadline 60 from the request: d0 (0 -> 20) alone, so the round fails at 60;
    its retry is a new round (requested at 60, before d0's check-in at 60): d0 (60 -> 80) and d1
    (90 -> 110) close it at 110."""
    pop = tiny.population([1.0] * 2)
    rows = [(0, 30, 0), (60, 1000, 0), (90, 1000, 1)]
    scenario = tiny.scenario(pop, rows, [tiny.job(0, "general", 2, deadline_s=60.0)], device_once_per_round=True)
    sim, res = tiny.simulate(scenario, policy)
    (job,) = res.jobs
    assert (job.jct_s, job.failed_rounds) == (pytest.approx(110.0), 1)
    a = sim.assignments()
    np.testing.assert_array_equal(a["device"], [0, 0, 1])
    np.testing.assert_array_equal(a["attempt"], [0, 1, 1])


def test_a_job_asking_for_more_devices_than_can_serve_it_is_refused_under_the_rule(tiny):
    pop = tiny.population([1.0] * 3)
    rows = [(0, 1000, d) for d in range(3)]
    jobs = [tiny.job(0, "general", 8, name="big")]
    with pytest.raises(SpecError, match="asks for 8 participants but only 3 devices .* no round of it could ever fill"):
        tiny.scenario(pop, rows, jobs, device_once_per_round=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tiny.scenario(pop, rows, jobs)
    assert any(
        isinstance(w.message, ScenarioWarning) and "device_once_per_round: false" in str(w.message) for w in caught
    )


def test_the_setting_must_be_a_boolean(tiny):
    pop = tiny.population([1.0])
    with pytest.raises(SpecError, match="device_once_per_round must be true or false"):
        tiny.scenario(pop, [(0, 1000, 0)], [tiny.job(0, "general", 1)], device_once_per_round="yes")


def crowded_scenario(seed: int = 0, **_) -> Scenario:
    """8 devices checking in often, 3 jobs asking for 5-6 of them: devices come back while rounds
    they served are open, so the rule decides often."""

    from venn_gym.scenario import Scenario

    jobs = tuple(
        JobSpec(arrival_s=600.0 * i, requirement="general", participants=p, rounds=4, deadline_s=900.0, quorum=0.8)
        for i, p in enumerate((5, 6, 5))
    )
    return Scenario(
        name="test/crowded-once-v0",
        seed=seed,
        population=make_population([0.5, 1.0, 1.0, 2.0, 0.7, 1.5, 1.0, 3.0]),
        trace=DiurnalTrace(n_devices=8, checkins_per_day=2000.0, window_median_s=1800.0),
        workload=Workload(jobs, name="crowded"),
        speed_tiers=2,
        horizon_s=20 * 86_400.0,
        device_once_per_round=True,
    )


@pytest.mark.parametrize("policy", ["random", "fifo", "srsf", "venn"])
def test_baselines_in_the_device_env_reproduce_native_runs_under_the_rule(policy):
    """The env's legal actions are the simulator's own candidates for the device (its first score
    level with a round it has not served), so a baseline playing in the env matches its native run."""
    import gymnasium as gym

    from venn_gym.baselines import make_policy
    from venn_gym.envs import PolicyAgent
    from venn_gym.policy import run_policy
    from venn_gym.registry import register_scenario

    register_scenario("test/crowded-once-v0", crowded_scenario, overwrite=True)
    native = run_policy(crowded_scenario(seed=3), make_policy(policy))
    env = gym.make("venn_gym/DeviceAssign-v0", scenario="test/crowded-once-v0", max_jobs=4)
    agent = PolicyAgent(make_policy(policy), env)
    obs, info = env.reset(seed=3)
    while True:
        action, _ = agent.predict(obs)
        obs, _, term, trunc, info = env.step(action)
        if term or trunc:
            break
    np.testing.assert_array_equal(info["jcts_s"], [j.jct_s for j in native.jobs])
    assert env.unwrapped.sim.jobs_ended == 3


def test_the_crowded_scenario_exercises_the_rule():
    """Without the rule its devices would serve rounds twice; with it none does."""
    from venn_gym.baselines import make_policy
    from venn_gym.policy import drive
    from venn_gym.simulation import Simulation

    def repeats(once: bool) -> int:
        sim = Simulation(crowded_scenario(seed=3).replace(device_once_per_round=once), record_assignments=True)
        drive(sim, make_policy("venn"))
        a = sim.assignments()
        served = list(zip(a["device"], a["job"], a["attempt"]))
        return len(served) - len(set(served))

    assert repeats(False) > 0 and repeats(True) == 0


def test_scenario_files_take_the_setting_and_show_says_so(tmp_path, capsys):
    from venn_gym.cli import main as cli
    from venn_gym.scenario_files import load_scenario_file

    text = (EXAMPLES / "campus-v0.yaml").read_text()
    path = tmp_path / "campus-once-v0.yaml"
    path.write_text(text.replace("name: ", "device_once_per_round: true\nname: ", 1))
    assert load_scenario_file(path, seed=0).device_once_per_round
    assert cli(["scenarios", "show", "--scenario", str(path)]) == 0
    assert "a device serves a round at most once" in capsys.readouterr().out
    path.write_text(text.replace("name: ", "device_once_per_round: sometimes\nname: ", 1))
    with pytest.raises(SpecError, match="device_once_per_round"):
        load_scenario_file(path, seed=0)
