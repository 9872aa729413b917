"""Property-based checks of the round rules over generated tiny scenarios, under both round
timings and several policies (hypothesis): every run ends, every round attempt ends exactly once,
by its deadline when deadlines count from the request, and the counters agree with the
assignments."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import job, make_population, make_scenario, simulate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

POLICIES = ("random", "random-order", "fifo", "srsf", "venn", "venn-ref:admission=0.5")
CATEGORIES = ("G", "C", "M", "H")
REQUIREMENTS = ("general", "compute_rich", "memory_rich", "high_performance")


@st.composite
def tiny_scenarios(draw):
    n_devices = draw(st.integers(2, 8))
    compute = draw(st.lists(st.sampled_from([0.5, 1.0, 2.0]), min_size=n_devices, max_size=n_devices))
    # Device 0 is in every category and checks in first: every requirement can be served.
    cats = ["H"] + draw(st.lists(st.sampled_from(CATEGORIES), min_size=n_devices - 1, max_size=n_devices - 1))
    n_rows = draw(st.integers(4, 40))
    starts = sorted(draw(st.lists(st.integers(0, 2000), min_size=n_rows, max_size=n_rows)))
    rows = [
        (
            float(t),
            float(t + draw(st.sampled_from([15, 60, 300, 1000]))),
            0 if i == 0 else draw(st.integers(0, n_devices - 1)),
        )
        for i, t in enumerate(starts)
    ]
    jobs = []
    for k in range(draw(st.integers(1, 3))):
        requirement = draw(st.sampled_from(REQUIREMENTS))
        jobs.append(
            job(
                float(draw(st.integers(0, 500))),
                requirement,
                draw(st.integers(1, 4)),
                rounds=draw(st.integers(1, 3)),
                deadline_s=float(draw(st.sampled_from([30, 100, 400]))),
                quorum=draw(st.sampled_from([0.5, 1.0])),
                name=f"j{k}",
            )
        )
    timing = draw(st.sampled_from(["request", "dispatch"]))
    policy = draw(st.sampled_from(POLICIES))
    scenario = make_scenario(
        make_population(compute, categories=cats),
        rows,
        jobs,
        period_s=2500.0,
        horizon_s=20_000.0,
        round_deadline_from=timing,
    )
    return scenario, policy


# Generated jobs may ask for more participants than there are eligible devices, on purpose.
@pytest.mark.filterwarnings("ignore::venn_gym.scenario.ScenarioWarning")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_scenarios())
def test_round_rules_hold_on_generated_scenarios(case):
    scenario, policy = case
    sim, res = simulate(scenario, policy)
    assert res.end_time_s <= scenario.horizon_s
    a = sim.assignments()
    keys = [(r.job, r.attempt) for r in res.rounds]
    assert len(keys) == len(set(keys)), "a round attempt ended twice"
    per_round = {}
    for j, attempt in zip(a["job"].astype(int).tolist(), a["attempt"].astype(int).tolist()):
        per_round[j, attempt] = per_round.get((j, attempt), 0) + 1
    for r in res.rounds:
        spec = scenario.workload.jobs[r.job]
        assert r.assigned == per_round.get((r.job, r.attempt), 0) <= spec.participants
        assert r.request_s <= r.dispatch_s <= r.end_s and r.request_s <= r.quorum_dispatch_s <= r.end_s
        if scenario.round_deadline_from == "request":
            assert r.end_s <= r.request_s + spec.deadline_s
            if not r.success:
                assert r.end_s == r.request_s + spec.deadline_s
        elif not r.success:
            assert r.end_s == pytest.approx(r.dispatch_s + spec.deadline_s)
    for j, rec in enumerate(res.jobs):
        rounds = [r for r in res.rounds if r.job == j]
        assert rec.failed_rounds == sum(not r.success for r in rounds)
        assert rec.wasted_tasks == sum(r.assigned for r in rounds if not r.success)
        assert rec.rounds_done == sum(r.success for r in rounds)
        assert rec.finished == (rec.rounds_done == rec.rounds)
        assert rec.tasks == int((a["job"] == j).sum())
    # A device holds at most one task per check-in window: its assignments never overlap.
    for device in np.unique(a["device"]):
        mine = np.flatnonzero(a["device"] == device)
        order = np.argsort(a["time_s"][mine])
        starts, ends = a["time_s"][mine][order], a["window_end_s"][mine][order]
        assert (starts[1:] >= ends[:-1]).all()
