"""Runs that can make no more progress stop early, with an error that names the job and why
(instead of simulating up to max_sim_days), and scenarios whose jobs could never run are refused."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

from venn_gym.errors import SpecError
from venn_gym.limits import LIMITS
from venn_gym.policy import Policy
from venn_gym.scenario import ScenarioWarning
from venn_gym.simulation import SimulationStuck

HOUR = 3600.0


def hourly_rows(devices: int, window_s: float, days: float = 1.0):
    """Each device checks in at the top of every hour for ``window_s``, for ``days`` (the trace repeats)."""
    return [(h * HOUR + d, h * HOUR + d + window_s, d) for h in range(int(24 * days)) for d in range(devices)]


def stuck_run(tiny, jobs, policy="fifo", window_s=600.0, **settings):
    pop = tiny.population([1.0, 1.0, 1.0])
    scenario = tiny.scenario(
        pop,
        hourly_rows(3, window_s),
        jobs,
        period_s=86_400.0,
        max_sim_days=3650.0,
        round_deadline_from="request",
        **settings,
    )
    started = time.process_time()
    with pytest.raises(SimulationStuck) as caught:
        tiny.simulate(scenario, policy)
    return str(caught.value), time.process_time() - started


def test_a_task_longer_than_every_window_stops_after_the_stall_limit(tiny):
    # a 5,000 s task (5,000 x compute 1 + 80 / 8) and 600 s windows: every task outlasts its window
    said, cpu_s = stuck_run(tiny, [tiny.job(0, "general", 2, deadline_s=90_000, workload_s=5_000, name="long")])
    assert f"no progress for {LIMITS['stall_days']} simulated days" in said
    assert "job 0 (long): all" in said and "outlasted their device's check-in window" in said
    assert "needs at least 5,010 s" in said and "longest eligible window in the trace's current chunk: 600 s" in said
    assert cpu_s < 30  # not the 3,650-day cap


def test_a_deadline_shorter_than_any_task_is_warned_of_and_stops_when_time_stands_still(tiny):
    with pytest.warns(ScenarioWarning, match="deadline_s 1e-09 is shorter than its fastest possible task"):
        said, _ = stuck_run(tiny, [tiny.job(0, "general", 2, deadline_s=1e-9, name="tiny")])
    assert "simulated time has stopped advancing" in said
    assert "job 0 (tiny): its deadline_s 1e-09 is shorter than its fastest possible task (20.0 s" in said


def test_a_job_the_policy_starves_is_named_with_the_policy_as_the_reason(tiny):
    class NeverJobOne(Policy):
        name = "never-job-1"

        def scores(self, view, events):
            return np.where(np.arange(view.static.n_jobs) == 1, -np.inf, 1.0)

    jobs = [tiny.job(0, "general", 1, rounds=2, name="served"), tiny.job(0, "general", 1, name="starved")]
    said, _ = stuck_run(tiny, jobs, policy=NeverJobOne())
    assert "job 1 (starved): it was given no device since t = 0 s" in said
    assert "the policy gives them to other jobs" in said and "job 0" not in said  # job 0 finished


def test_a_job_arriving_after_the_cap_is_refused_and_after_the_horizon_warned_of(tiny):
    pop = tiny.population([1.0])
    with pytest.raises(SpecError, match=r"arrives at 1e\+300 s, after max_sim_days .* could never run"):
        tiny.scenario(pop, [(0, 100, 0)], [tiny.job(1e300, "general", 1)])
    with pytest.warns(ScenarioWarning, match=r"arrives at 7200 s, at or after the horizon \(3600 s\): it will not run"):
        tiny.scenario(pop, [(0, 100, 0)], [tiny.job(0, "general", 1), tiny.job(7200, "general", 1)], horizon_s=3600)


def test_a_stall_before_the_horizon_is_a_result_not_an_error(tiny):
    """Under a horizon a run is bounded already: Random on request-timed rounds can go a month
    without a successful round, and its unfinished jobs are a result."""
    pop = tiny.population([1.0, 1.0, 1.0])
    scenario = tiny.scenario(
        pop,
        hourly_rows(3, 600.0),
        [tiny.job(0, "general", 2, workload_s=5_000)],
        period_s=86_400.0,
        horizon_s=60 * 86_400.0,
        max_sim_days=3650.0,
    )
    _, result = tiny.simulate(scenario, "fifo")
    assert not result.jobs[0].finished and result.end_time_s == 60 * 86_400.0


def test_slow_but_steady_runs_are_not_stopped(tiny):
    """Progress every few days (one check-in a week would not do) keeps a long run going."""
    pop = tiny.population([1.0])
    rows = [(day * 86_400.0, day * 86_400.0 + 600, 0) for day in range(0, 200, 5)]
    scenario = tiny.scenario(
        pop,
        rows,
        [tiny.job(0, "general", 1, rounds=30, deadline_s=10 * 86_400.0)],
        period_s=200 * 86_400.0,
        max_sim_days=3650.0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, result = tiny.simulate(scenario, "fifo")
    assert result.jobs[0].finished and result.jobs[0].end_s > 100 * 86_400.0
