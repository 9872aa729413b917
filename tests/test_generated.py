"""Property-based runs over generated small scenarios (hypothesis; 1,000 simulations and 200 env
episodes a test run, the ``long`` profile ten times more): sync and async jobs, table and synthetic
traces, both round timings, every policy and both envs (the priority env with holds and shares too). Every
run ends within its horizon (or stops with a clear error), and the invariants hold: no device holds
two tasks at once, no assignment goes to an ineligible device, each round attempt ends exactly once and within its
deadline when deadlines count from the request, an async job never has more tasks in flight than
its participants, the counters agree with the assignments, observations stay inside their
spaces, and an episode's rewards sum to minus the total JCT over the reward scale.

A device may serve one round more than once (it checks in again while the round is still open):
venn_gym allows it, as the Venn authors' simulator does; ``ScenarioWarning`` flags jobs that need
it to fill their rounds at all."""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np
import pytest
from conftest import draw_jobs, make_population, make_trace, scenario_or_reject, simulate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from venn_gym import requirements
from venn_gym.baselines import make_policy
from venn_gym.envs import DeviceAssignEnv
from venn_gym.jobs import ASYNC, Workload
from venn_gym.scenario import Scenario
from venn_gym.trace import DiurnalTrace

POLICIES = (
    "random",
    "random-order",
    "fifo",
    "srsf",
    "las",
    "venn",
    "venn-no-match",
    "venn-no-sched",
    "venn-ref",
    "venn:e=1",
    "venn:alpha=1.1",
    "venn-ref:admission=0.5",
    "venn-hold",
    "proportional",
)
CATEGORIES = ("G", "C", "M", "H")
REQUIREMENTS = (
    "general",
    "compute_rich",
    "memory_rich",
    "high_performance",
    {"attr": "ram_gb", "op": ">=", "value": 6},
)
HORIZON_S = 2 * 86_400.0
LONG = os.environ.get("VENN_GYM_PROPERTY_PROFILE") == "long"  # ten times the examples, for a release check
SIM_EXAMPLES, ENV_EXAMPLES = (10_000, 2_000) if LONG else (1_000, 200)


@st.composite
def small_scenarios(draw) -> Scenario:
    n_devices = draw(st.integers(2, 10))
    compute = draw(st.lists(st.sampled_from([0.3, 0.7, 1.0, 2.0, 4.0]), min_size=n_devices, max_size=n_devices))
    bandwidth = draw(st.lists(st.sampled_from([2.0, 8.0, 50.0]), min_size=n_devices, max_size=n_devices))
    # Device 0 is in every category with 8 GB: every requirement has an eligible device.
    cats = ["H"] + draw(st.lists(st.sampled_from(CATEGORIES), min_size=n_devices - 1, max_size=n_devices - 1))
    ram = [8.0] + draw(st.lists(st.sampled_from([2.0, 4.0, 8.0]), min_size=n_devices - 1, max_size=n_devices - 1))
    population = make_population(compute, bandwidth, cats, ram_gb=ram)
    if draw(st.booleans()):
        n_rows = draw(st.integers(3, 40))
        starts = sorted(draw(st.lists(st.integers(0, 3000), min_size=n_rows, max_size=n_rows)))
        rows = [
            (
                float(t),
                float(t + draw(st.sampled_from([10, 60, 300, 1200]))),
                0 if i == 0 else draw(st.integers(0, n_devices - 1)),
            )
            for i, t in enumerate(starts)
        ]
        trace = make_trace(rows, period_s=float(draw(st.sampled_from([3600, 7200]))))
    else:
        trace = DiurnalTrace(
            n_devices=n_devices,
            checkins_per_day=float(draw(st.sampled_from([50, 300, 2000]))),
            window_median_s=float(draw(st.sampled_from([60, 600, 1800]))),
            window_log_sd=float(draw(st.sampled_from([0.0, 0.5, 1.5]))),
        )
    jobs = draw_jobs(draw, REQUIREMENTS, [30, 200, 1000, 5000], async_one_in=4)
    options = dict(
        name="test/generated-v0",
        seed=draw(st.integers(0, 2**16)),
        population=population,
        trace=trace,
        workload=Workload(tuple(jobs), name="generated"),
        speed_tiers=draw(st.integers(1, 3)),
        task_noise_log_sd=draw(st.sampled_from([0.0, 0.5])),
        horizon_s=HORIZON_S,
        round_deadline_from=draw(st.sampled_from(["request", "dispatch"])),
        device_once_per_round=draw(st.booleans()),
    )
    return scenario_or_reject(options)


def check_run(scenario: Scenario, sim, res) -> None:
    assert res.end_time_s <= HORIZON_S
    a = sim.assignments()
    jobs = scenario.workload.jobs
    # No device holds two tasks at once: a device given a task is busy until its window ends.
    for device in np.unique(a["device"]):
        mine = np.flatnonzero(a["device"] == device)
        order = np.argsort(a["time_s"][mine], kind="stable")
        assert (a["time_s"][mine][order][1:] >= a["window_end_s"][mine][order][:-1]).all()
    # Every assignment is eligible.
    for j, spec in enumerate(jobs):
        eligible = requirements.evaluate(spec.requirement, scenario.population.attributes, len(scenario.population))
        assert eligible[a["device"][a["job"] == j].astype(int)].all(), f"job {j} got an ineligible device"
    # Under device_once_per_round no device serves one round of a sync job twice.
    if scenario.device_once_per_round:
        sync = np.array([jobs[j].mode != ASYNC for j in a["job"]], dtype=bool)
        served = list(zip(a["device"][sync], a["job"][sync], a["attempt"][sync]))
        assert len(served) == len(set(served)), "a device served one round twice"
    # Each round attempt ends once; sync rounds keep their size and deadline.
    keys = [(r.job, r.attempt) for r in res.rounds if not jobs[r.job].mode == ASYNC]
    assert len(keys) == len(set(keys)), "a round attempt ended twice"
    for r in res.rounds:
        spec = jobs[r.job]
        if spec.mode == ASYNC:
            continue
        assert r.assigned == int(((a["job"] == r.job) & (a["attempt"] == r.attempt)).sum()) <= spec.participants
        assert r.request_s <= r.dispatch_s <= r.end_s
        if scenario.round_deadline_from == "request":
            assert r.end_s <= r.request_s + spec.deadline_s + 1e-6
    # An async job never has more tasks in flight than its participants.
    for j, spec in enumerate(jobs):
        if spec.mode != ASYNC:
            continue
        mine = a["job"] == j
        frees = np.where(a["success"][mine], a["finish_s"][mine], a["window_end_s"][mine])
        times = np.concatenate([a["time_s"][mine], frees])
        steps = np.concatenate([np.ones(mine.sum()), -np.ones(mine.sum())])
        order = np.lexsort((steps, times))  # a slot freed at t is free for a check-in at t
        assert np.cumsum(steps[order]).max(initial=0) <= spec.participants
    for j, rec in enumerate(res.jobs):
        assert rec.tasks == int((a["job"] == j).sum())
        assert rec.rounds_done <= rec.rounds and rec.finished == (rec.rounds_done == rec.rounds)
        if jobs[j].mode != ASYNC:
            rounds = [r for r in res.rounds if r.job == j]
            assert rec.failed_rounds == sum(not r.success for r in rounds)
            assert rec.rounds_done == sum(r.success for r in rounds)
            if rec.finished:  # rounds run back to back: a job's time is its rounds' plus its holds'
                assert rec.jct_s == pytest.approx(sum(r.end_s - r.request_s for r in rounds) + rec.held_s, rel=1e-9)


@pytest.mark.filterwarnings("ignore::venn_gym.errors.ScenarioWarning")  # generated on purpose
@settings(max_examples=SIM_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_scenarios(), st.sampled_from(POLICIES))
def test_generated_runs_end_and_keep_the_invariants(scenario, policy):
    sim, res = simulate(scenario, policy)
    check_run(scenario, sim, res)


@pytest.mark.filterwarnings("ignore::venn_gym.errors.ScenarioWarning")
@settings(max_examples=ENV_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    small_scenarios(),
    st.sampled_from(
        [
            ("venn_gym/DeviceAssign-v0", {}),
            ("venn_gym/JobPriority-v0", {}),
            ("venn_gym/JobPriority-v0", {"round_hold": True, "hold_choices_s": (0.0, 100.0, 3000.0)}),
            ("venn_gym/JobPriority-v0", {"share_allocation": True, "per_class_scores": True}),
        ]
    ),
    st.integers(0, 2**16),
)
def test_generated_env_episodes_stay_in_their_spaces_and_sum_to_the_jct(scenario, env, seed):
    env_id, options = env
    env = gym.make(env_id, scenario=scenario, **options).unwrapped
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    total, steps = 0.0, 0
    while True:
        assert env.observation_space.contains(obs), f"step {steps}: observation outside its space"
        if isinstance(env, DeviceAssignEnv):
            legal = np.flatnonzero(info["action_mask"])
            action = int(legal[rng.integers(len(legal))])
        else:
            action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
        obs, reward, term, trunc, info = env.step(action)
        total += reward
        steps += 1
        if term or trunc:
            break
    assert env.observation_space.contains(obs)
    assert total == pytest.approx(-info["jcts_s"].sum() / info["reward_scale"], rel=1e-9, abs=1e-12)
    assert env.sim.now <= HORIZON_S


def test_a_generated_scenario_can_be_run_by_name_of_policy():
    """The strategies above draw every policy that venn-gym lists (so none is left out)."""
    from venn_gym.baselines import describe_policies

    listed = {line.split()[0] for line in describe_policies() if line and not line.startswith((" ", "Options"))}
    assert listed <= {p.split(":")[0] for p in POLICIES}
    for name in POLICIES:
        make_policy(name)
