"""Golden values for request-timed rounds (``round_deadline_from="request"``, the default and
the ``paper/*-v1`` timing), worked out by hand, next to the same scenarios timed from dispatch.

Semantics as in tests/test_golden.py, except that a round fails ``deadline_s`` after its
*request* unless its quorum is in by then; its dispatched tasks are wasted, results still in
flight are discarded, and the round is requested again at once.

Every device: compute 1, bandwidth 8, so a task takes 10 + 80 / 8 = 20 s; quorum 1.0.
"""

from __future__ import annotations

import numpy as np
import pytest

from venn_gym.baselines import make_policy

ALL_POLICIES = ("random", "fifo", "srsf", "las", "venn", "venn-ref")


def late_quorum_scenario(tiny, timing):
    """One job, 2 participants, deadline 100.

    request: d0 at 0 -> 20; d1 at 90 -> 110, after the deadline (0 + 100): the round fails
      at 100 with both tasks wasted, d1's result is discarded. Retry (request 100, deadline
      200): d0 and d1 are busy (windows to 1000); d2 at 150 -> 170, d3 at 160 -> 180: closes
      at 180. Scheduling 90 + 60, response 10 + 20, queuing (to the 2nd dispatch) 90 + 60.
    dispatch: the deadline is 90 + 100; results at 20 and 110: closes at 110.
    """
    pop = tiny.population([1.0] * 4)
    rows = [(0, 1000, 0), (90, 1000, 1), (150, 1000, 2), (160, 1000, 3)]
    jobs = [tiny.job(0, "general", 2, deadline_s=100.0, name="A")]
    return tiny.scenario(pop, rows, jobs, round_deadline_from=timing)


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_round_whose_quorum_comes_after_the_deadline_fails(tiny, policy):
    sim, res = tiny.simulate(late_quorum_scenario(tiny, "request"), policy)
    (job,) = res.jobs
    assert job.jct_s == pytest.approx(180.0)
    assert (job.rounds_done, job.failed_rounds, job.tasks, job.dropped_tasks, job.wasted_tasks) == (1, 1, 4, 0, 2)
    assert job.scheduling_delay_s == pytest.approx(150.0)
    assert job.response_time_s == pytest.approx(30.0)
    assert job.queuing_delay_s == pytest.approx(150.0)
    r0, r1 = res.rounds
    assert (r0.attempt, r0.success, r0.assigned, r0.results) == (0, False, 2, 2)
    assert (r0.request_s, r0.dispatch_s, r0.end_s, r0.quorum_dispatch_s) == pytest.approx((0, 90, 100, 90))
    assert (r1.attempt, r1.success, r1.assigned, r1.results) == (1, True, 2, 2)
    assert (r1.request_s, r1.dispatch_s, r1.end_s, r1.quorum_dispatch_s) == pytest.approx((100, 160, 180, 160))
    a = sim.assignments()
    np.testing.assert_array_equal(a["device"], [0, 1, 2, 3])
    np.testing.assert_array_equal(a["attempt"], [0, 0, 1, 1])


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_same_round_timed_from_dispatch_succeeds(tiny, policy):
    _, res = tiny.simulate(late_quorum_scenario(tiny, "dispatch"), policy)
    (job,) = res.jobs
    assert job.jct_s == pytest.approx(110.0)
    assert (job.failed_rounds, job.tasks, job.wasted_tasks) == (0, 2, 0)
    assert job.queuing_delay_s == pytest.approx(90.0)


def late_fill_scenario(tiny, timing):
    """One job, 2 participants, deadline 100; the second device comes too late to fill it.

    request: d0 at 0 -> 20; nothing else before 100: fails at 100 with 1 task wasted
      (queuing delay: no quorum-th dispatch, so up to the end, 100). Retry (request 100):
      d1 at 120 -> 140, d2 at 150 -> 170: closes at 170.
    dispatch: d1 at 120 fills the round (deadline 220): results 20 and 140: closes at 140.
    """
    pop = tiny.population([1.0] * 3)
    rows = [(0, 1000, 0), (120, 1000, 1), (150, 1000, 2)]
    jobs = [tiny.job(0, "general", 2, deadline_s=100.0, name="A")]
    return tiny.scenario(pop, rows, jobs, round_deadline_from=timing)


@pytest.mark.parametrize(
    "timing, jct, failed, wasted, queuing",
    [
        ("request", 170.0, 1, 1, 100.0 + 50.0),
        ("dispatch", 140.0, 0, 0, 120.0),
    ],
)
def test_round_that_cannot_fill_in_time(tiny, timing, jct, failed, wasted, queuing):
    _, res = tiny.simulate(late_fill_scenario(tiny, timing), "fifo")
    (job,) = res.jobs
    assert (job.jct_s, job.failed_rounds, job.wasted_tasks) == (pytest.approx(jct), failed, wasted)
    assert job.queuing_delay_s == pytest.approx(queuing)


def test_quorum_at_the_deadline_instant_succeeds(tiny):
    """Quorum and deadline at the same instant: the close is handled first (the round succeeds).
    d0 at 0 -> 20, d1 at 80 -> 100 = 0 + deadline 100."""
    pop = tiny.population([1.0] * 2)
    rows = [(0, 1000, 0), (80, 1000, 1)]
    scenario = tiny.scenario(pop, rows, [tiny.job(0, "general", 2, deadline_s=100.0)])
    _, res = tiny.simulate(scenario, "fifo")
    assert (res.jobs[0].jct_s, res.jobs[0].failed_rounds) == (pytest.approx(100.0), 0)


# --------------------------------------------------------------------------
# Venn's order inside a group: remaining service (venn) or the current
# round's remaining demand (venn-ref, the authors' rule).
# Device k checks in once at 10 (k + 1), window 500; tasks 20 s.
# A: arrives 0, 3 rounds x 1 device. B: arrives 5, 1 round x 2 devices.
# At t5: A's round needs 1 (service 1 + 2 x 1 = 3), B's 2 (service 2).
# venn (B first, 2 < 3): t10 B, t20 B (closes 40, JCT 35); t30 A (closes 50);
#   t50 A (request 50, closes 70); t70 A (closes 90).          JCT (90, 35)
# venn-ref (A first, 1 < 2): t10 A (closes 30); t20 B; t30 A's round 1 (A 1 vs
#   B 1: the earlier arrival) -> closes 50; t40 B (closes 60, JCT 55);
#   t50 A's round 2 -> closes 70.                                JCT (70, 55)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("policy, expected", [("venn", (90.0, 35.0)), ("venn-ref", (70.0, 55.0))])
def test_venn_order_key_inside_a_group(tiny, policy, expected):
    n = 12
    pop = tiny.population([1.0] * n)
    rows = [(10.0 * (k + 1), 10.0 * (k + 1) + 500.0, k) for k in range(n)]
    jobs = [tiny.job(0, "general", 1, rounds=3, name="A"), tiny.job(5, "general", 2, name="B")]
    _, res = tiny.simulate(tiny.scenario(pop, rows, jobs), policy)
    assert tiny.jcts(res) == pytest.approx(expected)


def test_admission_check_turns_away_a_round_the_supply_cannot_fill(tiny):
    """The authors' check: 0.5 x participants / floor(deadline / 60) per minute against the
    eligible check-ins per minute. Job B asks 40 devices per minute of deadline from a pool
    checking in about once a minute: rejected at every request, it gets no device, and its
    rounds fail at their deadlines until the horizon; job A (1 device) is admitted."""
    n = 40
    pop = tiny.population([1.0] * n)
    rows = [(60.0 * k, 60.0 * k + 500.0, k) for k in range(n)]
    jobs = [tiny.job(0, "general", 1, rounds=3, name="A"), tiny.job(0, "general", 40, deadline_s=60.0, name="B")]
    scenario = tiny.scenario(pop, rows, jobs, horizon_s=1500.0, period_s=2400.0)  # 1 check-in a minute
    _, plain = tiny.simulate(scenario, "venn-ref")
    _, checked = tiny.simulate(scenario, make_policy("venn-ref:admission=0.5"))
    a, b = checked.jobs
    assert a.finished and b.tasks == 0 and b.failed_rounds >= 20
    assert plain.jobs[1].tasks > 0


def test_admission_option_names_the_policy():
    assert make_policy("venn-ref:admission=0.5").name == "venn-ref(admission=0.5)"
    assert make_policy("venn-ref").name == "venn-ref"


@pytest.mark.parametrize("timing", ["request", "dispatch"])
@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_tasks_of_no_time_finish_at_their_checkin(tiny, timing, policy):
    """workload_s 0 and a vanishing model: a task finishes at its own check-in instant (t + 1e-19
    == t in floats). d0 at 50 fills and closes round 1 at 50; round 2 (requested at 50) gets d1 at
    60; round 3 gets d2 at 70. Before the fix the matcher cut the quorum's own check-in and never
    moved on."""
    pop = tiny.population([1.0] * 3)
    rows = [(50, 1000, 0), (60, 1000, 1), (70, 1000, 2)]
    jobs = [tiny.job(0, "general", 1, rounds=3, workload_s=0.0, model_size_mb=1e-20)]
    _, res = tiny.simulate(tiny.scenario(pop, rows, jobs, round_deadline_from=timing), policy)
    (job,) = res.jobs
    assert job.finished and job.jct_s == pytest.approx(70.0)
    assert [(r.request_s, r.end_s) for r in res.rounds] == [(0, 50), (50, 60), (60, 70)]
