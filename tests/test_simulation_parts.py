"""The simulator's parts on their own: the event kinds and the event heap, and the estimates."""

from __future__ import annotations

import heapq
import math
import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from venn_gym import matching
from venn_gym.estimates import WINDOW_CHUNKS, ResponseP95, SupplyEstimate, tier_percentiles
from venn_gym.event_heap import EventHeap, EventKind, heap_pop
from venn_gym.simulation import _distinct_rows
from venn_gym.trace import DiurnalTrace


def test_event_kinds_keep_their_values_and_the_matchers():
    assert [(k.name, int(k)) for k in EventKind] == [
        ("CLOSE", 0),
        ("DEADLINE", 1),
        ("TASK_END", 2),
        ("ARRIVAL", 3),
        ("HORIZON", 4),
        ("RELEASE", 5),  # a held round's release: the simulation's own, the matcher never writes it
    ]
    assert (matching.CLOSE, matching.DEADLINE, matching.TASK_END, matching.ARRIVAL, matching.HORIZON) == tuple(
        EventKind
    )[:5]


def test_the_heap_pops_in_time_kind_push_order_as_heapq_does_tuples():
    """Pushes and pops interleaved, ties in time and kind included, through growth from a capacity
    of 4: the same order as Python's heapq on (time, kind, push order, job, tag) tuples."""
    rng = random.Random(0)
    heap, reference, popped, expected = EventHeap(capacity=4), [], [], []
    for seq in range(3_000):
        time = float(rng.choice([0.0, 1.0, 2.5, math.inf, rng.random()]))
        kind, job = rng.choice(list(EventKind)), rng.randrange(-1, 3)
        heap.push(time, kind, job, seq)
        heapq.heappush(reference, (time, int(kind), seq, job, seq))
        while rng.random() < 0.3 and len(heap):
            popped.append(heap_pop(heap.arrays))
            expected.append(heapq.heappop(reference))
    while len(heap):
        popped.append(heap_pop(heap.arrays))
        expected.append(heapq.heappop(reference))
    assert popped == [(t, k, j, tag) for t, k, _, j, tag in expected] and not reference


def test_supply_starts_at_the_population_share_of_the_mean_rate_then_counts_recent_chunks():
    trace = DiurnalTrace(n_devices=10, checkins_per_day=86_400.0, chunk_s=100.0)
    share = np.array([0.25, 0.75])
    supply = SupplyEstimate(share, trace)
    assert supply.chunks == 0 and list(supply.per_s()) == [0.25, 0.75]
    assert not supply.per_s().flags.writeable
    supply.add_chunk(np.array([0, 1, 1, 1]))
    assert list(supply.per_s()) == [0.01, 0.03]
    for _ in range(WINDOW_CHUNKS):
        supply.add_chunk(np.array([1, 1]))
    assert supply.chunks == WINDOW_CHUNKS and list(supply.per_s()) == [0.0, 0.02]


def test_response_p95_per_tier_and_overall_from_the_filled_slots():
    p95 = ResponseP95(speed_tiers=3)
    assert np.isnan(p95.per_tier).all() and math.isnan(p95.overall)
    times, tiers, _ = p95.sample
    times[:4], tiers[:4] = [10.0, 20.0, 30.0, 40.0], [0, 0, 2, 2]
    p95.refresh()
    assert p95.per_tier[0] == 19.5 and math.isnan(p95.per_tier[1]) and p95.per_tier[2] == 39.5
    assert p95.overall == 38.5


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.0, 1e6), st.integers(-1, 3)), max_size=60),
    st.sampled_from([95, 50, 0, 100, 99.9]),
)
def test_tier_percentiles_are_numpys_bit_for_bit(samples, percent):
    """The compiled percentiles replace numpy's in the simulator: any difference in the last bit
    would change a Venn run."""
    times = np.array([t for t, _ in samples], dtype=float)
    tiers = np.array([u for _, u in samples], dtype=np.int64)
    out = np.empty(4 + 1)
    tier_percentiles(times, tiers, percent / 100, np.empty(len(times)), out)  # numpy's own q / 100
    seen, seen_tiers = times[tiers >= 0], tiers[tiers >= 0]
    expected = [np.percentile(seen[seen_tiers == u], percent) if (seen_tiers == u).any() else np.nan for u in range(4)]
    expected.append(np.percentile(seen, percent) if len(seen) else np.nan)
    np.testing.assert_array_equal(out, expected)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 200), st.integers(1, 70), st.floats(0.0, 1.0), st.integers(0, 2**32 - 1))
def test_device_classes_are_numpys_distinct_rows(n_devices, n_requirements, density, seed):
    """The eligibility patterns (the simulator's device classes and their order) are what
    ``np.unique(axis=0)`` gives, also past 62 requirements, where rows are no longer packed."""
    flags = np.random.default_rng(seed).random((n_devices, n_requirements)) < density
    patterns, inverse = _distinct_rows(flags)
    expected_patterns, expected_inverse = np.unique(flags, axis=0, return_inverse=True)
    assert patterns.dtype == bool
    np.testing.assert_array_equal(patterns, expected_patterns)
    np.testing.assert_array_equal(inverse, expected_inverse.reshape(-1))
