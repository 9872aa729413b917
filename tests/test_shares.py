"""A device class split between jobs in proportions (``Simulation.set_scores(scores, shares)``,
``Policy.shares``, the ``share_allocation`` option of ``JobPriority-v0``): the pick itself,
its proportions over many check-ins, errors, and both envs reproducing a sharing baseline."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from conftest import job, make_population, make_scenario, simulate
from gymnasium.utils.env_checker import check_env

from venn_gym import make_scenario as make_registered
from venn_gym.baselines import make_policy
from venn_gym.envs import JobPriorityEnv, PolicyAgent
from venn_gym.errors import IllegalActionError
from venn_gym.matching import pick_target
from venn_gym.policy import Policy, run_policy
from venn_gym.simulation import NO_SHARES, Simulation


@pytest.mark.parametrize(
    "tie, expected",
    [(0.0, 2), (0.2499, 2), (0.25, 5), (0.99, 5)],
)
def test_a_check_in_goes_to_a_job_in_proportion_to_its_share(tie, expected):
    """Targets 2 and 5 with shares 1 and 3: draws below 1/4 go to job 2, the rest to job 5."""
    shares = np.zeros((1, 6))
    shares[0, 2], shares[0, 5] = 1.0, 3.0
    assert pick_target(np.array([2, 5]), 2, tie, shares, 0) == expected


def test_without_shares_or_with_zero_shares_the_pick_is_uniform():
    targets = np.array([1, 3, 4])
    for tie in (0.0, 0.34, 0.67, 0.999):
        uniform = targets[int(tie * 3)]
        assert pick_target(targets, 3, tie, NO_SHARES, 0) == uniform
        assert pick_target(targets, 3, tie, np.zeros((1, 5)), 0) == uniform


def test_a_job_without_a_share_gets_nothing_while_another_has_one():
    shares = np.array([[0.0, 1.0]])
    assert {pick_target(np.array([0, 1]), 2, tie, shares, 0) for tie in np.linspace(0, 0.999, 50)} == {1}


class SplitOneToThree(Policy):
    """Every job scores the same; job 0 has share 1, every other job 3 (powers of two apart would be
    exactly expressible in the env; these are not, see the env tests)."""

    name = "split"

    def __init__(self, other: float = 3.0):
        self.other = other

    def scores(self, view, events):
        return np.zeros(view.static.n_jobs)

    def shares(self, view, events):
        shares = np.full(view.static.n_jobs, self.other)
        shares[0] = 1.0
        return shares


@pytest.mark.filterwarnings("ignore::venn_gym.errors.ScenarioWarning")  # jobs that never fill, on purpose
def test_over_many_check_ins_a_class_is_split_in_the_given_proportion():
    """Two jobs that never fill (400 participants each, 200 devices checking in once each, a long
    deadline): every check-in is a pick between them, and job 1 should get 3/4 of them."""
    n = 200
    pop = make_population([1.0] * n)
    rows = [(float(i), 10_000.0, i) for i in range(n)]
    jobs = [job(0, "general", 400, deadline_s=50_000.0), job(0, "general", 400, deadline_s=50_000.0)]
    sc = make_scenario(pop, rows, jobs, horizon_s=5_000.0)
    sim, _ = simulate(sc, SplitOneToThree())
    got = np.bincount(sim.assignments()["job"].astype(int), minlength=2)
    assert got.sum() == n
    assert abs(got[1] / n - 0.75) < 3 * np.sqrt(0.75 * 0.25 / n)


def test_shares_are_checked():
    pop = make_population([1.0] * 2)
    sim = Simulation(make_scenario(pop, [(0, 100, 0)], [job(0, "general", 1), job(0, "general", 1)]))
    sim.advance()
    with pytest.raises(IllegalActionError, match="shares must have shape"):
        sim.set_scores(np.zeros(2), np.ones(3))
    for bad in (np.array([1.0, -1.0]), np.array([np.nan, 1.0]), np.array([np.inf, 1.0])):
        with pytest.raises(IllegalActionError, match="finite and >= 0"):
            sim.set_scores(np.zeros(2), bad)


def test_the_proportional_baseline_splits_by_open_demand():
    sc = make_registered("paper/low-v1", seed=2, scale=0.01)
    a, b = run_policy(sc, make_policy("proportional")), run_policy(sc, make_policy("random"))
    assert [j.jct_s for j in a.jobs] != [j.jct_s for j in b.jobs]  # shares change who gets devices


SMALL = dict(scenario="paper/low-v1", scenario_options={"scale": 0.01})


def play(env, agent, seed):
    obs, info = env.reset(seed=seed)
    total = 0.0
    while True:
        obs, reward, term, trunc, info = env.step(agent.act(obs, info))
        total += reward
        if term or trunc:
            return total, info


def test_the_share_env_passes_the_checker():
    check_env(JobPriorityEnv(**SMALL, share_allocation=True, per_class_scores=True), skip_render_check=True)


def test_the_share_env_reproduces_shares_that_are_powers_of_two_apart():
    env = gym.make("venn_gym/JobPriority-v0", **SMALL, share_allocation=True)
    total, info = play(env, PolicyAgent(SplitOneToThree(other=4.0), env), seed=5)
    native = run_policy(make_registered("paper/low-v1", seed=5, scale=0.01), SplitOneToThree(other=4.0))
    np.testing.assert_array_equal(info["jcts_s"], [j.jct_s for j in native.jobs])
    assert total == pytest.approx(-info["jcts_s"].sum() / info["reward_scale"], rel=1e-9)


def test_the_device_env_reproduces_a_sharing_baseline():
    env = gym.make("venn_gym/DeviceAssign-v0", **SMALL)
    _, info = play(env, PolicyAgent(make_policy("proportional"), env), seed=6)
    native = run_policy(make_registered("paper/low-v1", seed=6, scale=0.01), make_policy("proportional"))
    np.testing.assert_array_equal(info["jcts_s"], [j.jct_s for j in native.jobs])


def test_shares_need_the_share_option_and_one_score_level():
    plain = JobPriorityEnv(**SMALL)
    plain.reset(seed=0)
    n = plain.sim.static.n_jobs
    with pytest.raises(IllegalActionError, match="share_allocation=True"):
        plain.scores_to_action(np.zeros(n), shares=np.ones(n))
    env = JobPriorityEnv(**SMALL, share_allocation=True)
    env.reset(seed=0)
    with pytest.raises(IllegalActionError, match="one score level"):
        env.scores_to_action(np.arange(n, dtype=float), shares=np.ones(n))
