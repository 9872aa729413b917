"""Venn's decision in pieces: the compiled take-over pass against a plain reading of the
rule, the compact decision against the score matrix, and the job order."""

from __future__ import annotations

import numpy as np
import pytest

from venn_gym.baselines import make_policy
from venn_gym.baselines.venn import _take_over
from venn_gym.errors import SpecError
from venn_gym.experiments.benchmark import synthetic_view
from venn_gym.policy import rank_order, rank_scores
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
