"""Venn's decision in pieces: the compiled take-over pass against a plain reading of the
rule, the compiled decision against numpy operations, the compact decision against the score
matrix, and the job order."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from venn_gym.baselines import make_policy
from venn_gym.baselines.venn import _take_over
from venn_gym.errors import SpecError
from venn_gym.experiments.benchmark import synthetic_view
from venn_gym.policy import rank_order, rank_scores, scores_of_order
from venn_gym.seeds import VENN_STREAM, stream
from venn_gym.simulation import SchedulingEvent


def take_over_reference(order, queues, supply, margin=1.0):
    """The take-over rule as the paper states it (margin 1), on Python lists (queues ascending)."""
    queues = [list(q) for q in queues]
    supply = list(supply)
    taken_by = list(range(len(queues)))
    for pos, j in enumerate(order):
        if not queues[j] or supply[j] <= 0:
            continue
        for k in order[pos + 1 :]:
            if supply[k] <= 0 and not queues[k]:
                continue
            takes = not queues[k] or supply[k] <= 0
            if not takes:
                delay_k = sum(queues[k]) / supply[k]
                affected, waited = len(queues[j]), 0.0
                if sum(queues[j]) / supply[j] > delay_k:
                    for position, demand in enumerate(queues[j]):
                        waited += demand / supply[j]
                        if waited >= delay_k:
                            affected = position
                            break
                takes = affected / supply[j] > margin * len(queues[k]) / supply[k]
            if not takes:
                break
            taken_by[k] = j
            supply[j] += supply[k]
            supply[k] = 0.0
            queues[j] = sorted(queues[j] + queues[k])
            queues[k] = []
    return taken_by


def test_compiled_take_over_matches_the_rule():
    taken_over = 0
    for case in range(300):
        rng = np.random.default_rng(case)
        n_groups = int(rng.integers(1, 12))
        queues = [np.sort(rng.integers(1, 50, rng.integers(0, 6)).astype(float)) for _ in range(n_groups)]
        supply = np.where(rng.random(n_groups) < 0.2, 0.0, rng.random(n_groups) * 5)
        order = rng.permutation(n_groups)
        margin = float(rng.choice([1.0, 1.0, 0.0, 0.5, 1.5, np.inf]))
        bounds = np.concatenate([[0], np.cumsum([len(q) for q in queues])]).astype(np.int64)
        flat = np.concatenate(queues) if bounds[-1] else np.empty(0)
        taken_by = _take_over(order, bounds, flat, supply.copy(), margin)
        expected = take_over_reference(order.tolist(), queues, supply, margin)
        assert taken_by.tolist() == expected, f"case {case}, margin {margin}"
        taken_over += sum(k != g for g, k in enumerate(expected))
    assert taken_over > 100  # the cases exercise take-overs, not only refusals


@pytest.mark.parametrize(
    "queue_j,expected",
    [
        # j's cumulative wait reaches k's delay (2/1) at its 2nd job: 1 affected job per unit supply,
        # not more than k's 1 -> no take-over (a tie is a "no").
        ([1.0, 1.0, 1.0], [0, 1]),
        # 2 of j's jobs wait less than k's delay: 2 > 1 -> j takes k's devices.
        ([0.5, 1.0, 1.0], [0, 0]),
        # j's whole queue waits no longer than k's: all 2 affected -> takes over.
        ([1.0, 1.0], [0, 0]),
    ],
)
def test_take_over_by_hand(queue_j, expected):
    queues = [queue_j, [2.0]]
    bounds = np.array([0, len(queue_j), len(queue_j) + 1])
    taken_by = _take_over(np.array([0, 1]), bounds, np.array(queue_j + [2.0]), np.array([1.0, 1.0]))
    assert taken_by.tolist() == expected == take_over_reference([0, 1], queues, [1.0, 1.0])


@pytest.mark.parametrize("margin,expected", [(1.0, [0, 0]), (2.0, [0, 1]), (np.inf, [0, 1]), (0.0, [0, 0])])
def test_take_over_margin_by_hand(margin, expected):
    # j has 2 affected jobs per unit supply against k's 1: it takes over unless the margin is 2 or more.
    taken_by = _take_over(
        np.array([0, 1]), np.array([0, 3, 4]), np.array([0.5, 1.0, 1.0, 2.0]), np.array([1.0, 1.0]), margin
    )
    assert taken_by.tolist() == expected


def test_take_over_margin_option():
    policy = make_policy("venn-no-match:alpha=1.1,e=0.5")
    assert (policy.take_over_margin, policy.fairness, policy.matching) == (1.1, 0.5, False)
    assert policy.name == "venn-no-match(e=0.5,alpha=1.1)"
    assert make_policy("venn:alpha=inf").take_over_margin == np.inf
    with pytest.raises(SpecError, match="take_over_margin"):
        make_policy("venn:alpha=-1")
    with pytest.raises(SpecError, match="alpha=<float>"):
        make_policy("srsf:alpha=1")


def test_take_over_keeps_its_inputs():
    order, bounds = np.array([1, 0]), np.array([0, 1, 3])
    flat, supply = np.array([5.0, 1.0, 2.0]), np.array([1.0, 4.0])
    _take_over(order, bounds, flat, supply)
    assert supply.tolist() == [1.0, 4.0] and flat.tolist() == [5.0, 1.0, 2.0]


def test_decision_expands_to_the_policy_scores():
    view = synthetic_view(n_jobs=200, n_groups=20, n_patterns=16)
    events = [SchedulingEvent(view.time_s, "request", 3)]
    decided, scored = make_policy("venn"), make_policy("venn")
    decided.reset(view.static, 7)
    scored.reset(view.static, 7)
    decision = decided.decide(view, events)
    scores = scored.scores(view, events)
    np.testing.assert_array_equal(decision.scores(view.static), scores)
    # Every class with a group gives that group's jobs precedence over all others.
    for c in np.flatnonzero(decision.class_group >= 0)[:5]:
        finite = np.isfinite(scores[c])
        in_group = view.static.job_requirement == decision.class_group[c]
        if (in_group & finite).any() and (~in_group & finite).any():
            assert scores[c][in_group & finite].min() > scores[c][~in_group & finite].max()


@pytest.mark.parametrize("ties", [False, True])
def test_rank_order_sorts_by_every_key_then_index(ties):
    rng = np.random.default_rng(1)
    first = rng.integers(0, 5, 300).astype(float) if ties else rng.random(300)
    second = rng.integers(0, 3, 300).astype(float)
    order = rank_order(first, second)
    np.testing.assert_array_equal(order, np.lexsort((np.arange(300), second, first)))
    scores = rank_scores(first, second)
    assert scores[order[0]] == 0.0 and np.array_equal(np.sort(-scores), np.arange(300))


@pytest.mark.parametrize("keys", ["distinct", "ties", "nan and signed zeros", "integers"])
def test_rank_order_is_numpys_stable_order(keys):
    rng = np.random.default_rng(2)
    arrival = rng.integers(0, 4, 200).astype(float)
    key = {
        "distinct": rng.random(200),
        "ties": rng.integers(0, 5, 200).astype(float),
        "nan and signed zeros": rng.choice([np.nan, 0.0, -0.0, 1.0, np.inf], 200),
        "integers": rng.integers(0, 5, 200),
    }[keys]
    arrival[::7] = np.nan
    expected = np.lexsort((np.arange(len(key)), arrival, key))  # NaN last, -0.0 equal to 0.0
    np.testing.assert_array_equal(rank_order(key, arrival), expected)
    reference = np.empty(len(key))
    reference[expected] = -np.arange(len(key), dtype=float)
    assert rank_scores(key, arrival).tobytes() == reference.tobytes()  # -0.0 for the first job


def test_the_views_compiled_remaining_demand_is_its_numpy_formula():
    view = synthetic_view(n_jobs=300)
    rng = np.random.default_rng(3)
    view = dataclasses.replace(
        view,
        rounds_done=rng.integers(0, 5000, 300),
        open_demand=rng.integers(0, 1500, 300),
    )
    static = view.static
    later_rounds = np.maximum(static.job_rounds - view.rounds_done - 1, 0)
    demand = view.open_demand + later_rounds * static.job_participants.astype(float)
    assert demand.tobytes() == view.remaining_demand.tobytes()


def numpy_allocation(view, demand, rejected, margin):
    """Venn's job order (as scores) and each device class's group, in numpy operations: the
    implementation before the allocation was compiled."""
    static = view.static
    order = rank_order(demand, view.arrival_s)
    n_req, eligible, supply = static.n_requirements, static.class_eligible, view.class_supply_per_s
    queued = view.active & (view.open_demand > 0) & ~rejected
    by_demand = order[queued[order]]
    group_of = static.job_requirement[by_demand]
    sorted_demand = demand[by_demand[np.argsort(group_of, kind="stable")]]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(group_of, minlength=n_req))]).astype(np.int64)
    by_scarcity = np.argsort(supply @ eligible.astype(float), kind="stable")
    weight = np.empty(n_req, dtype=np.int64)
    weight[by_scarcity] = np.arange(n_req, 0, -1)
    best = (eligible * weight).max(axis=1)
    owner = np.where(best > 0, by_scarcity[np.minimum(n_req - best, n_req - 1)], -1)
    served = owner >= 0
    alloc = np.bincount(owner[served], weights=supply[served], minlength=n_req)
    taken_by = _take_over(by_scarcity[::-1].copy(), bounds, sorted_demand, alloc, margin)
    return scores_of_order(order), np.where(served, taken_by[owner], -1)


def numpy_tier(view, job, rng):
    """Tier matching's pick at a request, in numpy scalars."""
    tiers = view.static.speed_tiers
    sched, resp = view.last_scheduling_delay_s[job], view.last_response_s[job]
    if tiers < 2 or sched <= 0 or not np.isfinite(view.all_response_p95_s):
        return -1
    u = int(rng.integers(tiers))
    with np.errstate(divide="ignore", invalid="ignore"):
        g = view.tier_response_p95_s[u] / view.all_response_p95_s
    if not np.isfinite(g):
        return -1
    c = resp / sched
    return u if 1 + c > tiers + c * g else -1


def numpy_score_matrix(decision, static):
    in_group = decision.class_group[:, None] == static.job_requirement[None, :]
    scores = np.where(in_group, decision.job_order + 1e6, decision.job_order)
    restricted = np.flatnonzero(decision.job_tier >= 0)
    wrong_tier = static.class_tier[:, None] != decision.job_tier[None, restricted]
    scores[:, restricted] = np.where(wrong_tier, -np.inf, scores[:, restricted])
    if decision.job_rejected is not None:
        scores[:, decision.job_rejected] = -np.inf
    return scores


def busy_view(rng, view):
    """``view`` with a random state: jobs in and out, demands with ties, idle classes, unknown tiers."""
    n_jobs, tiers = view.static.n_jobs, view.static.speed_tiers
    return dataclasses.replace(
        view,
        active=rng.random(n_jobs) < 0.8,
        arrival_s=rng.integers(0, 20, n_jobs).astype(float),
        rounds_done=rng.integers(0, 3, n_jobs) * rng.integers(0, 2, n_jobs),
        open_demand=rng.integers(0, 4, n_jobs) * rng.integers(0, 2, n_jobs),
        class_supply_per_s=rng.random(len(view.class_supply_per_s)) * (rng.random(len(view.class_supply_per_s)) < 0.8),
        last_scheduling_delay_s=rng.random(n_jobs) * 100 * (rng.random(n_jobs) < 0.8),
        last_response_s=rng.random(n_jobs) * 600,
        tier_response_p95_s=np.where(rng.random(tiers) < 0.2, np.nan, rng.random(tiers) * 300),
        all_response_p95_s=float(rng.choice([200.0, 200.0, 0.0, np.nan])),
    )


@pytest.mark.parametrize("spec", ["venn", "venn-ref", "venn-no-match:alpha=0.5", "venn-ref:admission=0.5", "venn:e=1"])
def test_the_compiled_decision_is_the_numpy_decision(spec):
    for case in range(40):
        rng = np.random.default_rng(case)
        view = synthetic_view(
            n_jobs=int(rng.integers(1, 80)),
            n_groups=int(rng.integers(1, 8)),
            n_patterns=int(rng.integers(1, 10)),
            tiers=int(rng.integers(1, 5)),
            seed=case,
        )
        policy = make_policy(spec)
        policy.reset(view.static, case)
        tier_rng, tiers = stream(case, VENN_STREAM), np.full(view.static.n_jobs, -1)
        for step in range(4):
            if step == 0 or rng.random() < 0.7:  # else the same supply as before
                view = busy_view(rng, view)
            jobs = rng.choice(view.static.n_jobs, int(rng.integers(0, 4)))
            events = [
                SchedulingEvent(view.time_s, str(rng.choice(["request", "round_end", "job_end"])), j) for j in jobs
            ]
            decision = policy.decide(view, events)
            rejected = policy._rejected.copy()
            job_order, class_group = numpy_allocation(
                view, policy._effective_demand(view), rejected, policy.take_over_margin
            )
            for event in events:
                if event.kind == "request":
                    tiers[event.job] = numpy_tier(view, event.job, tier_rng)
            where = f"{spec}, case {case}, step {step}"
            assert decision.job_order.tobytes() == job_order.tobytes(), where
            np.testing.assert_array_equal(decision.class_group, class_group, err_msg=where)
            np.testing.assert_array_equal(decision.job_tier, tiers if policy.matching else -1, err_msg=where)
            if rejected.any():
                np.testing.assert_array_equal(decision.job_rejected, rejected, err_msg=where)
            else:
                assert decision.job_rejected is None
            expected = numpy_score_matrix(decision, view.static)
            assert decision.scores(view.static).tobytes() == expected.tobytes(), where
