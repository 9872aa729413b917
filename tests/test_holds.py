"""Rounds held back by the scheduler (``Simulation.hold_round``, ``Policy.holds``, the
``round_hold`` option of ``JobPriority-v0``): hand-worked golden cases, errors, and the env
reproducing a holding baseline's native run.

Every device: compute 1, bandwidth 8, so a task takes 20 s; quorum 1.0 (see conftest.job)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from conftest import job, make_population, make_scenario, simulate
from gymnasium.utils.env_checker import check_env

from venn_gym import make_scenario as make_registered
from venn_gym.baselines import make_policy
from venn_gym.envs import JobPriorityEnv, PolicyAgent
from venn_gym.errors import IllegalActionError, SpecError
from venn_gym.jobs import ASYNC, JobSpec
from venn_gym.policy import Policy, run_policy
from venn_gym.simulation import Simulation


class HoldFirstRequests(Policy):
    """FIFO scores; the first ``times`` requests of every job are held for ``hold_s``."""

    name = "hold-first"

    def __init__(self, hold_s: float, times: int = 1):
        self.hold_s, self.times = hold_s, times

    def reset(self, static, seed):
        self._held = np.zeros(static.n_jobs, dtype=int)

    def scores(self, view, events):
        return -view.arrival_s

    def holds(self, view, events):
        hold_s = np.zeros(view.static.n_jobs)
        for e in events:
            if e.kind == "request" and self._held[e.job] < self.times:
                hold_s[e.job] = self.hold_s
                self._held[e.job] += 1
        return hold_s


def late_quorum(timing="request"):
    """One job, 2 participants, deadline 100: d0 at 0, d1 at 90, d2 at 150, d3 at 160 (windows to
    1000). Without holds (tests/test_golden_request.py) the first round fails at 100 with both
    tasks wasted and the retry closes at 180."""
    pop = make_population([1.0] * 4)
    rows = [(0, 1000, 0), (90, 1000, 1), (150, 1000, 2), (160, 1000, 3)]
    return make_scenario(pop, rows, [job(0, "general", 2, deadline_s=100.0, name="A")], round_deadline_from=timing)


def test_a_round_held_past_its_doomed_attempt_wastes_nothing():
    """Held at its request (0) for 100 s. The old deadline (100) comes before the release at the
    same instant and is stale; the release requests the round at 100 (deadline 200): d2 at 150 ->
    170, d3 at 160 -> 180: closes at 180, the JCT of the unheld run, with no failed round and
    nothing wasted. held 100 + scheduling 60 + response 20 = JCT 180."""
    sim, res = simulate(late_quorum(), HoldFirstRequests(100.0))
    (j,) = res.jobs
    assert j.jct_s == pytest.approx(180.0)
    assert (j.rounds_done, j.failed_rounds, j.tasks, j.wasted_tasks) == (1, 0, 2, 0)
    assert (j.held_s, j.scheduling_delay_s, j.response_time_s) == pytest.approx((100.0, 60.0, 20.0))
    (r,) = res.rounds
    assert (r.attempt, r.request_s, r.dispatch_s, r.end_s, r.success) == (0, 100.0, 160.0, 180.0, True)
    np.testing.assert_array_equal(sim.assignments()["device"], [2, 3])


def test_a_release_before_the_old_deadline_starts_a_new_deadline():
    """Held for 50 s: requested at 50 (deadline 150); the old deadline at 100 is stale. d1 at 90
    -> 110; at 150 the deadline (an event) comes before d2's check-in: the round fails with d1's
    task wasted; retry at 150: d2 at 150 -> 170, d3 at 160 -> 180."""
    _, res = simulate(late_quorum(), HoldFirstRequests(50.0))
    (j,) = res.jobs
    assert j.jct_s == pytest.approx(180.0)
    assert (j.failed_rounds, j.wasted_tasks, j.held_s) == (1, 1, 50.0)
    r0, r1 = res.rounds
    assert (r0.request_s, r0.end_s, r0.success, r0.assigned) == (50.0, 150.0, False, 1)
    assert (r1.request_s, r1.end_s, r1.success) == (150.0, 180.0, True)


def test_holding_again_moves_the_release_and_holds_under_dispatch_timing():
    sim = Simulation(late_quorum("dispatch"))
    events = sim.advance()
    assert [e.kind for e in events] == ["arrival", "request"]
    sim.set_scores(np.zeros(1))
    sim.hold_round(0, 50.0)
    assert not sim.holdable()[0]
    sim.hold_round(0, 120.0)  # moves the release: the one at 50 is stale
    events = sim.advance()
    assert [(e.time_s, e.kind) for e in events] == [(120.0, "request")]
    assert np.isnan(sim.observe().round_held_until_s[0])
    while not sim.done and sim.advance():
        pass
    (j,) = sim.result().jobs
    assert j.finished and j.held_s == 120.0 and j.jct_s == pytest.approx(180.0)


@pytest.mark.parametrize("policy", ["venn", "srsf", "random"])
def test_holding_nothing_changes_nothing(policy):
    sc = make_registered("paper/low-v1", seed=3, scale=0.01)
    plain = run_policy(sc, make_policy(policy))

    class NoHolds(Policy):
        name = "no-holds"

        def __init__(self):
            self.base = make_policy(policy)

        def reset(self, static, seed):
            self.base.reset(static, seed)

        def scores(self, view, events):
            return self.base.scores(view, events)

        def holds(self, view, events):
            return np.zeros(view.static.n_jobs)

    assert run_policy(sc, NoHolds()).job_rows()[0]["jct_s"] == plain.job_rows()[0]["jct_s"]
    assert [r["jct_s"] for r in run_policy(sc, NoHolds()).job_rows()] == [r["jct_s"] for r in plain.job_rows()]


def test_a_finished_jobs_jct_is_its_rounds_plus_its_holds():
    sc = make_registered("paper/low-v1", seed=1, scale=0.01)
    res = run_policy(sc, make_policy("venn-hold"))
    assert sum(j.held_s for j in res.jobs) > 0, "the scenario should make venn-hold hold rounds"
    for j in res.jobs:
        if j.finished:
            rounds = sum(r.end_s - r.request_s for r in res.rounds if r.job == j.job)
            assert j.jct_s == pytest.approx(rounds + j.held_s, rel=1e-9)


def test_holds_that_cannot_apply_are_clear_errors():
    pop = make_population([1.0] * 4)
    rows = [(0, 1000, 0), (5, 1000, 1)]
    jobs = [
        job(0, "general", 2, deadline_s=100.0),
        JobSpec(
            arrival_s=0.0, requirement="general", participants=1, rounds=1, deadline_s=100.0, mode=ASYNC, buffer_size=1
        ),
        job(500, "general", 1),
    ]
    sim = Simulation(make_scenario(pop, rows, jobs))
    sim.advance()
    sim.set_scores(np.zeros(3))
    with pytest.raises(IllegalActionError, match="asynchronous"):
        sim.hold_round(1, 10.0)
    with pytest.raises(IllegalActionError, match="not in the system"):
        sim.hold_round(2, 10.0)
    with pytest.raises(IllegalActionError, match="finite time after now"):
        sim.hold_round(0, 0.0)
    with pytest.raises(IllegalActionError, match="out of range"):
        sim.hold_round(7, 10.0)
    with pytest.raises(IllegalActionError, match="shape"):
        sim.hold_rounds(np.zeros(2))
    with pytest.raises(IllegalActionError, match="finite seconds"):
        sim.hold_rounds(np.array([np.nan, 0.0, 0.0]))
    np.testing.assert_array_equal(sim.hold_rounds(np.array([10.0, 10.0, 10.0])), [0])  # the others are skipped
    sim.hold_round(0, 20.0)
    sim.advance()  # the async job takes d0 at 0; the sync job is released at 20
    assert sim.now == 20.0


def test_a_round_with_a_device_dispatched_cannot_be_held():
    sim = Simulation(late_quorum())
    sim.advance()
    sim.set_scores(np.zeros(1))
    sim.advance(stop_at_choices=1)  # stops before d0's check-in
    sim.decide(0)
    with pytest.raises(IllegalActionError, match="devices dispatched"):
        sim.hold_round(0, 500.0)


def test_a_held_round_cannot_take_a_device():
    pop = make_population([1.0] * 2)
    sc = make_scenario(pop, [(0, 1000, 0), (10, 1000, 1)], [job(0, "general", 1), job(0, "general", 1)])
    sim = Simulation(sc)
    sim.advance()
    sim.set_scores(np.zeros(2))
    sim.hold_round(1, 30.0)
    sim.advance(stop_at_choices=1)
    assert sim.pending_checkin.candidates.tolist() == [0]
    with pytest.raises(IllegalActionError, match="held until"):
        sim.decide(1)
    with pytest.raises(IllegalActionError, match="pending"):
        sim.hold_round(0, 40.0)


# ------------------------------------------------------------------ the env option
SMALL = dict(scenario="paper/low-v1", scenario_options={"scale": 0.01})


def test_the_hold_env_passes_the_checker_and_shows_holds():
    env = JobPriorityEnv(**SMALL, round_hold=True)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=1)
    assert {"job_held", "job_holdable"} <= set(obs)
    action = np.ones(env.action_space.shape, dtype=np.float32)  # every slot: the longest hold
    obs, *_ = env.step(action)
    held = obs["job_held"][obs["job_mask"] == 1]
    assert (held > 0).any() and env.observation_space.contains(obs)


def test_the_spaces_without_holds_are_unchanged():
    plain, hold = JobPriorityEnv(**SMALL), JobPriorityEnv(**SMALL, round_hold=True)
    assert hold.action_space.shape[0] == plain.action_space.shape[0] + plain.max_jobs
    assert set(hold.observation_space.spaces) - set(plain.observation_space.spaces) == {"job_held", "job_holdable"}


@pytest.mark.parametrize("choices", [(300.0, 600.0), (0.0,), (0.0, -5.0), (0.0, 60.0, 60.0), "x"])
def test_bad_hold_choices_are_refused(choices):
    with pytest.raises(SpecError, match="hold_choices_s"):
        JobPriorityEnv(**SMALL, round_hold=True, hold_choices_s=choices)


def test_a_holding_baseline_in_the_env_reproduces_its_native_run_and_the_reward_sums_to_the_jct():
    """venn-hold's holds are any seconds; with an env whose choices hold it to multiples of 60 s it
    cannot be expressed, so a baseline that holds only the env's choices is used."""
    env = gym.make("venn_gym/JobPriority-v0", **SMALL, round_hold=True, per_class_scores=True, tier_choice=True)
    policy = HoldFirstRequests(300.0, times=2)
    agent = PolicyAgent(policy, env)
    obs, info = env.reset(seed=4)
    total = 0.0
    while True:
        obs, reward, term, trunc, info = env.step(agent.act(obs, info))
        total += reward
        if term or trunc:
            break
    native = run_policy(make_registered("paper/low-v1", seed=4, scale=0.01), HoldFirstRequests(300.0, times=2))
    np.testing.assert_array_equal(info["jcts_s"], [j.jct_s for j in native.jobs])
    assert sum(j.held_s for j in native.jobs) > 0
    assert total == pytest.approx(-info["jcts_s"].sum() / info["reward_scale"], rel=1e-9)


def test_holds_the_action_cannot_express_are_refused():
    env = JobPriorityEnv(**SMALL, round_hold=True)
    _, info = env.reset(seed=0)
    with pytest.raises(IllegalActionError, match="hold_choices_s"):
        env.scores_to_action(np.zeros(env.sim.static.n_jobs), np.full(env.sim.static.n_jobs, 10.0))
    plain = JobPriorityEnv(**SMALL)
    plain.reset(seed=0)
    with pytest.raises(IllegalActionError, match="round_hold=True"):
        plain.scores_to_action(np.zeros(plain.sim.static.n_jobs), np.full(plain.sim.static.n_jobs, 300.0))


def test_the_device_env_refuses_a_holding_baseline():
    env = gym.make("venn_gym/DeviceAssign-v0", **SMALL)
    agent = PolicyAgent(HoldFirstRequests(300.0), env)
    obs, info = env.reset(seed=0)
    with pytest.raises(IllegalActionError, match="JobPriority-v0 with round_hold=True"):
        agent.act(obs, info)
