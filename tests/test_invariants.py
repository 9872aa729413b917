"""Invariants of every run, on small scaled paper scenarios, for every baseline policy.

Each (scenario, seed, policy) is simulated once (cached) with record_assignments=True.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from conftest import simulate  # tests/ is on sys.path under pytest's default (prepend) import mode

import venn_gym
from venn_gym import baselines, requirements
from venn_gym.simulation import Simulation

SCALE = 0.02
# Both round timings: -v0 counts deadlines from dispatch, -v1 from the request.
CASES = [
    ("paper/even-v0", 0),
    ("paper/even-v0", 1),
    ("paper/low-v0", 0),
    ("paper/low-v0", 1),
    ("paper/low-v1", 0),
    ("paper/low-v1", 1),
]
POLICIES = sorted(baselines.POLICIES)
# Policies whose scores are finite for every (class, job): a free eligible device never idles
# while a job it may serve has open demand. (Venn's tier matching puts -inf on other tiers.)
WORK_CONSERVING = ("random", "fifo", "srsf", "las", "venn-no-match")


@functools.lru_cache(maxsize=None)
def scenario(name: str, seed: int, noise: bool = True):
    sc = venn_gym.make_scenario(name, seed=seed, scale=SCALE)
    return sc if noise else sc.replace(task_noise_log_sd=0.0)


@functools.lru_cache(maxsize=None)
def run(name: str, seed: int, policy: str, noise: bool = True):
    sc = scenario(name, seed, noise)
    sim, res = simulate(sc, policy)
    return sc, sim, res, sim.assignments()


def all_checkins(sc, until_s: float):
    """Every check-in of the trace that starts before until_s (concatenated chunks)."""
    n_chunks = int(math.ceil(until_s / sc.trace.chunk_s)) + 1
    chunks = [sc.trace.chunk(k, sc.seed) for k in range(n_chunks)]
    t = np.concatenate([c.time for c in chunks])
    d = np.concatenate([c.device for c in chunks])
    e = np.concatenate([c.end for c in chunks])
    keep = t < until_s
    return t[keep], d[keep], e[keep]


def eligibility(sc) -> np.ndarray:
    """[device, job] eligibility straight from the requirements (not the simulator's classes)."""
    pop = sc.population
    return np.stack([requirements.evaluate(j.requirement, pop.attributes, len(pop)) for j in sc.workload.jobs], axis=1)


params = pytest.mark.parametrize("case", CASES, ids=[f"{n.split('/')[1]}-s{s}" for n, s in CASES])
request_timed = pytest.mark.parametrize(
    "case",
    [c for c in CASES if c[0].endswith("-v1")],
    ids=[f"{n.split('/')[1]}-s{s}" for n, s in CASES if n.endswith("-v1")],
)
policies = pytest.mark.parametrize("policy", POLICIES)


@params
@policies
def test_all_jobs_finish(case, policy):
    _, _, res, _ = run(*case, policy)
    assert all(j.finished for j in res.jobs)
    assert all(j.rounds_done == j.rounds for j in res.jobs)


@params
@policies
def test_no_device_serves_two_tasks_at_once(case, policy):
    _, _, _, a = run(*case, policy)
    order = np.lexsort((a["time_s"], a["device"]))
    dev, start, end = a["device"][order], a["time_s"][order], a["window_end_s"][order]
    same = dev[1:] == dev[:-1]
    overlap = same & (start[1:] < end[:-1])
    assert not overlap.any(), f"device {dev[1:][overlap][0]} has overlapping tasks"
    assert (end > start).all()


@params
@policies
def test_assignments_are_eligible_and_are_real_checkins(case, policy):
    sc, _, res, a = run(*case, policy)
    elig = eligibility(sc)
    job, dev = a["job"].astype(int), a["device"].astype(int)
    assert elig[dev, job].all(), "a device served a job it is not eligible for"
    t, d, e = all_checkins(sc, res.end_time_s + 1.0)
    trace_keys = set(zip(t.tolist(), d.tolist(), e.tolist()))
    assigned_keys = set(zip(a["time_s"].tolist(), dev.tolist(), a["window_end_s"].tolist()))
    assert len(assigned_keys) == len(a["time_s"]), "one check-in got two tasks"
    assert assigned_keys <= trace_keys, "an assignment matches no check-in of the trace"


@params
@policies
def test_task_outcomes(case, policy):
    _, _, _, a = run(*case, policy)
    assert (a["finish_s"] > a["time_s"]).all()
    np.testing.assert_array_equal(a["success"], a["finish_s"] <= a["window_end_s"])


@pytest.mark.parametrize("case", CASES[:1], ids=["even-s0"])
@pytest.mark.parametrize("policy", ["random", "venn"])
def test_task_time_formula_without_noise(case, policy):
    sc, _, _, a = run(*case, policy, noise=False)
    jobs = sc.workload.jobs
    job, dev = a["job"].astype(int), a["device"].astype(int)
    workload = np.array([j.workload_s for j in jobs])[job]
    model = np.array([j.model_size_mb for j in jobs])[job]
    expected = workload * sc.population.compute_factor[dev] + 16.0 * model / sc.population.bandwidth_mbps[dev]
    np.testing.assert_allclose(a["finish_s"] - a["time_s"], expected, rtol=1e-9)


@params
@policies
def test_round_records(case, policy):
    sc, _, res, a = run(*case, policy)
    jobs = sc.workload.jobs
    keys = [(r.job, r.attempt) for r in res.rounds]
    assert len(keys) == len(set(keys)), "a round attempt ended twice"
    count = {}
    for j, att in zip(a["job"].astype(int).tolist(), a["attempt"].astype(int).tolist()):
        count[j, att] = count.get((j, att), 0) + 1
    for j, spec in enumerate(jobs):
        rounds = sorted((r for r in res.rounds if r.job == j), key=lambda r: r.attempt)
        assert [r.attempt for r in rounds] == list(range(len(rounds)))
        ok = [r for r in rounds if r.success]
        assert len(ok) == spec.rounds == res.jobs[j].rounds_done
        assert [r.round for r in ok] == list(range(spec.rounds))
        assert rounds[-1].success, "a job ended on a failed round"
        assert sum(not r.success for r in rounds) == res.jobs[j].failed_rounds
        done = 0
        for r in rounds:
            assert r.round == done  # a retried round keeps its round number
            done += r.success
            assert r.assigned == count.get((j, r.attempt), 0)
            assert r.assigned <= spec.participants
            assert r.request_s <= r.dispatch_s <= r.end_s
            if r.success:
                assert r.results >= spec.quorum_count
            elif sc.round_deadline_from == "dispatch":
                assert r.assigned == spec.participants, "a round failed before all its devices were dispatched"
                assert r.end_s == pytest.approx(r.dispatch_s + spec.deadline_s)
            else:
                assert r.end_s == pytest.approx(r.request_s + spec.deadline_s)


@params
@policies
def test_round_ends_at_the_quorum_or_the_deadline(case, policy):
    sc, _, res, a = run(*case, policy)
    jobs = sc.workload.jobs
    by_round = {}
    for i, key in enumerate(zip(a["job"].astype(int).tolist(), a["attempt"].astype(int).tolist())):
        by_round.setdefault(key, []).append(i)
    for r in res.rounds:
        spec = jobs[r.job]
        idx = np.array(by_round.get((r.job, r.attempt), []), dtype=int)
        times = a["time_s"][idx]
        assert ((times >= r.request_s) & (times <= r.end_s)).all(), "device assigned outside its round"
        if len(idx):
            assert r.dispatch_s == pytest.approx(times.max())
        finish = np.sort(a["finish_s"][idx][a["success"][idx]])
        assert len(finish) == r.results
        q = spec.quorum_count
        if r.success:
            assert r.end_s == pytest.approx(finish[q - 1]), "round did not close at its Q-th result"
        else:
            assert len(finish) < q or finish[q - 1] > r.end_s, "round failed although its quorum was in time"


@request_timed
@policies
def test_request_timed_round_ends_by_its_deadline(case, policy):
    """A request-timed round ends at its quorum no later than request + deadline, or fails
    exactly then, with all its dispatched tasks wasted."""
    sc, _, res, _ = run(*case, policy)
    assert sc.round_deadline_from == "request"
    for r in res.rounds:
        deadline = sc.workload.jobs[r.job].deadline_s
        if r.success:
            assert r.end_s <= r.request_s + deadline
        else:
            assert r.end_s == r.request_s + deadline
        assert r.request_s <= r.quorum_dispatch_s <= r.end_s
    wasted = sum(r.assigned for r in res.rounds if not r.success)
    assert wasted == sum(j.wasted_tasks for j in res.jobs)


@params
@policies
def test_jct_is_the_chain_of_rounds(case, policy):
    sc, _, res, _ = run(*case, policy)
    for j, rec in enumerate(res.jobs):
        rounds = sorted((r for r in res.rounds if r.job == j), key=lambda r: r.attempt)
        # A round is requested when the previous one ends (the first at arrival), unless the policy
        # held it back (venn-hold): the gaps are exactly the job's held time.
        gaps = [rounds[0].request_s - rec.arrival_s] + [
            nxt.request_s - prev.end_s for prev, nxt in zip(rounds, rounds[1:])
        ]
        assert min(gaps) >= 0 and sum(gaps) == pytest.approx(rec.held_s, abs=1e-6)
        if rec.held_s == 0:
            assert max(gaps) == 0, "the next round was not requested when the previous one ended"
        assert rounds[-1].end_s == pytest.approx(rec.end_s)
        total = sum(r.end_s - r.request_s for r in rounds)
        assert rec.jct_s == pytest.approx(total + rec.held_s, rel=1e-9)
        assert rec.jct_s == pytest.approx(rec.end_s - rec.arrival_s, rel=1e-12)
        assert rec.scheduling_delay_s + rec.response_time_s + rec.held_s == pytest.approx(rec.jct_s, rel=1e-9)
        assert rec.scheduling_delay_s == pytest.approx(sum(r.dispatch_s - r.request_s for r in rounds), rel=1e-9)
        assert rec.queuing_delay_s == pytest.approx(sum(r.quorum_dispatch_s - r.request_s for r in rounds), rel=1e-9)


@params
@policies
def test_job_counters_match_assignments(case, policy):
    _, _, res, a = run(*case, policy)
    job, ok = a["job"].astype(int), a["success"].astype(bool)
    failed_attempts = {(r.job, r.attempt) for r in res.rounds if not r.success}
    in_failed = np.array(
        [(j, t) in failed_attempts for j, t in zip(job.tolist(), a["attempt"].astype(int).tolist())], dtype=bool
    )
    for rec in res.jobs:
        mine = job == rec.job
        assert rec.tasks == mine.sum()
        assert rec.dropped_tasks == (mine & ~ok).sum()
        assert rec.wasted_tasks == (mine & in_failed).sum()


@params
@pytest.mark.parametrize("policy", WORK_CONSERVING)
def test_no_free_eligible_device_idles_while_a_job_waits(case, policy):
    """With finite scores, an unassigned check-in of a free device means that no
    eligible job had an open, unfilled round at that instant."""
    sc, _, res, a = run(*case, policy)
    t, d, e = all_checkins(sc, res.end_time_s)
    elig = eligibility(sc)
    a_time, a_dev, a_end = a["time_s"], a["device"].astype(int), a["window_end_s"]
    assigned = set(zip(a_time.tolist(), a_dev.tolist()))
    un = np.array([(ti, di) not in assigned for ti, di in zip(t.tolist(), d.tolist())], dtype=bool)
    t, d = t[un], d[un]
    # Free: the device's latest assignment before t has a window ending by t.
    order = np.lexsort((a_time, a_dev))
    sdev, stime, send = a_dev[order], a_time[order], a_end[order]
    busy = np.zeros(len(t), dtype=bool)
    for dv in np.unique(d):
        lo, hi = np.searchsorted(sdev, [dv, dv + 1])
        if hi == lo:
            continue
        sel = np.flatnonzero(d == dv)
        k = np.searchsorted(stime[lo:hi], t[sel], side="left") - 1
        has = k >= 0
        busy[sel[has]] = send[lo:hi][k[has]] > t[sel[has]]
    t, d = t[~busy], d[~busy]
    a_job, a_att = a["job"].astype(int), a["attempt"].astype(int)
    for r in res.rounds:
        spec = sc.workload.jobs[r.job]
        lo, hi = np.searchsorted(t, [r.request_s, r.end_s], side="left")
        if hi == lo:
            continue
        mine = np.sort(a_time[(a_job == r.job) & (a_att == r.attempt)])
        before = np.searchsorted(mine, t[lo:hi], side="right")
        idle = (before < spec.participants) & elig[d[lo:hi], r.job]
        assert not idle.any(), (
            f"device {d[lo:hi][idle][0]} checked in free at t={t[lo:hi][idle][0]:.3f} and idled "
            f"while job {r.job} attempt {r.attempt} had open demand"
        )


# ----------------------------------------------------------------- determinism


@pytest.mark.parametrize("policy", ["random", "venn"])
def test_same_scenario_seed_policy_is_deterministic(policy):
    r1 = venn_gym.run_policy(
        venn_gym.make_scenario("paper/even-v0", seed=3, scale=SCALE), baselines.make_policy(policy)
    )
    r2 = venn_gym.run_policy(
        venn_gym.make_scenario("paper/even-v0", seed=3, scale=SCALE), baselines.make_policy(policy)
    )
    assert r1.jobs == r2.jobs
    assert r1.rounds == r2.rounds
    assert r1.checkins == r2.checkins


def test_checkin_stream_does_not_depend_on_the_policy():
    sc_a = venn_gym.make_scenario("paper/low-v0", seed=0, scale=SCALE)
    sc_b = venn_gym.make_scenario("paper/low-v0", seed=0, scale=SCALE)
    for k in (0, 5):
        ca, cb = sc_a.trace.chunk(k, sc_a.seed), sc_b.trace.chunk(k, sc_b.seed)
        np.testing.assert_array_equal(ca.time, cb.time)
        np.testing.assert_array_equal(ca.device, cb.device)
        np.testing.assert_array_equal(ca.end, cb.end)
    other = venn_gym.make_scenario("paper/low-v0", seed=1, scale=SCALE).trace.chunk(0, 1)
    assert len(other) != len(ca) or not np.array_equal(other.time, ca.time)
    # Same population and jobs too.
    np.testing.assert_array_equal(sc_a.population.compute_factor, sc_b.population.compute_factor)
    assert sc_a.workload.jobs == sc_b.workload.jobs


def test_task_noise_per_checkin_is_the_same_under_every_policy():
    """Every policy sees the same task-time noise for a given check-in: the noise
    factor (task time / noise-free task time) of a check-in is policy independent."""
    name, seed = CASES[2]
    sc = scenario(name, seed)
    jobs = sc.workload.jobs
    workload = np.array([j.workload_s for j in jobs])
    transfer = np.array([16.0 * j.model_size_mb for j in jobs])
    noise = {}
    for policy in ("random", "fifo", "venn"):
        _, _, _, a = run(name, seed, policy)
        job, dev = a["job"].astype(int), a["device"].astype(int)
        base = workload[job] * sc.population.compute_factor[dev] + transfer[job] / sc.population.bandwidth_mbps[dev]
        noise[policy] = dict(zip(zip(a["time_s"].tolist(), dev.tolist()), ((a["finish_s"] - a["time_s"]) / base)))
    for p, q in (("random", "fifo"), ("random", "venn")):
        common = noise[p].keys() & noise[q].keys()
        assert len(common) > 100
        diffs = [abs(noise[p][k] - noise[q][k]) for k in common]
        assert max(diffs) < 1e-9


def test_different_seeds_give_different_results():
    r0 = run("paper/even-v0", 0, "venn")[2]
    r1 = run("paper/even-v0", 1, "venn")[2]
    assert [j.jct_s for j in r0.jobs] != [j.jct_s for j in r1.jobs]
    # and the tie-breaking of random differs by seed too
    assert run("paper/low-v0", 0, "random")[2].summary() != run("paper/low-v0", 1, "random")[2].summary()


@pytest.mark.parametrize("policy", ["random", "venn"])
def test_results_do_not_depend_on_keep_rounds(policy):
    sc = scenario("paper/low-v0", 0)
    kept = venn_gym.run_policy(sc, baselines.make_policy(policy), keep_rounds=True)
    dropped = venn_gym.run_policy(sc, baselines.make_policy(policy), keep_rounds=False)
    assert kept.jobs == dropped.jobs
    assert kept.summary() == dropped.summary()
    assert dropped.rounds == () and len(kept.rounds) > 0


def test_record_assignments_does_not_change_results():
    sc = scenario("paper/low-v0", 0)
    plain = venn_gym.run_policy(sc, baselines.make_policy("venn"))
    _, _, recorded, _ = run("paper/low-v0", 0, "venn")
    assert plain.jobs == recorded.jobs


def test_assignments_need_record_flag():
    sim = Simulation(scenario("paper/low-v0", 0))
    with pytest.raises(venn_gym.VennGymError):
        sim.assignments()
