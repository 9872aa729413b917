"""Compiled policies: a policy's kernel (``Policy.kernel``, run by ``Simulation.run_kernel``) gives
the very simulation that asking the policy at every scheduling event gives, round for round and
assignment for assignment, on generated scenarios and the paper's; and where a policy has none, or
the run cannot take one, the policy is asked as before."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_generated import small_scenarios

import venn_gym
from venn_gym.baselines import make_policy
from venn_gym.event_loop import KERNEL_VIEW
from venn_gym.policy import drive
from venn_gym.simulation import Simulation

WITH_KERNELS = (
    "random",
    "random-order",
    "fifo",
    "srsf",
    "las",
    "venn",
    "venn-ref",
    "venn-no-match",
    "venn-no-sched",
    "venn:alpha=1.1",
)
WITHOUT = ("venn:e=1", "venn-ref:admission=0.5", "venn-hold", "proportional")


def run(scenario, policy: str, use_kernel: bool, monkeypatch=None):
    """(everything the run produced, whether it ran a kernel)."""
    calls = []
    original = Simulation.run_kernel

    def counted(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Simulation, "run_kernel", counted)
        sim = Simulation(scenario, keep_rounds=True, record_assignments=True)
        drive(sim, make_policy(policy), use_kernel=use_kernel)
    result = sim.result(policy)
    produced = (result.job_rows(), result.round_rows(), result.end_time_s, result.checkins, sim.assignments())
    return produced, bool(calls)


def assert_same(a, b) -> None:
    *plain_a, assignments_a = a
    *plain_b, assignments_b = b
    assert plain_a == plain_b
    assert assignments_a.keys() == assignments_b.keys()
    for key in assignments_a:
        assert np.array_equal(assignments_a[key], assignments_b[key]), key


@given(scenario=small_scenarios(), policy=st.sampled_from(WITH_KERNELS))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_a_kernel_runs_the_simulation_its_policy_runs(scenario, policy):
    compiled, ran_kernel = run(scenario, policy, use_kernel=True)
    asked, asked_ran_kernel = run(scenario, policy, use_kernel=False)
    assert_same(compiled, asked)
    has_async = any(job.mode == "async" for job in scenario.workload.jobs)
    assert ran_kernel == (not has_async) and not asked_ran_kernel  # async task ends stay in Python


@pytest.mark.parametrize("policy", WITH_KERNELS)
@pytest.mark.parametrize("name", ["paper/even-v0", "paper/high-v1"])
def test_a_kernel_runs_the_paper_scenarios_as_its_policy_does(name, policy):
    scenario = venn_gym.make_scenario(name, seed=5, scale=0.02)
    compiled, ran_kernel = run(scenario, policy, use_kernel=True)
    assert ran_kernel
    assert_same(compiled, run(scenario, policy, use_kernel=False)[0])


@pytest.mark.parametrize("policy", WITHOUT)
def test_policies_without_a_kernel_are_asked_at_every_event(policy):
    scenario = venn_gym.make_scenario("paper/low-v1", seed=5, scale=0.02)
    assert not run(scenario, policy, use_kernel=True)[1]


def test_a_kernel_refuses_a_simulation_already_under_way():
    scenario = venn_gym.make_scenario("paper/low-v1", seed=5, scale=0.02)
    sim = Simulation(scenario)
    sim.set_scores(np.zeros(sim.static.n_jobs))
    sim.advance()
    policy = make_policy("srsf")
    policy.reset(sim.static, scenario.seed)
    assert not sim.runs_kernels
    with pytest.raises(venn_gym.VennGymError, match="fresh simulation"):
        sim.run_kernel(policy.kernel(sim.static))


def test_a_kernels_view_is_the_scheduler_view_by_name():
    """What event_loop.KERNEL_VIEW names each entry of a kernel's view holds: the SchedulerView's
    field of that name (time and overall p95 as arrays of one), mid-run and after a chunk."""
    scenario = venn_gym.make_scenario("paper/low-v1", seed=5, scale=0.02)
    sim = Simulation(scenario)
    policy = make_policy("venn")
    policy.reset(sim.static, scenario.seed)
    for _ in range(300):
        events = sim.advance()
        sim.set_scores(policy.scores(sim.observe(), events))
    view = sim.observe()
    sim._k_view[0][0] = sim.now  # the loop writes the time; advance() keeps it in sim.now
    assert len(sim._k_view) == len(KERNEL_VIEW)
    for name, live in zip(KERNEL_VIEW, sim._k_view):
        expected = np.atleast_1d(getattr(view, name))
        assert np.array_equal(live, expected, equal_nan=True), name
