"""``venn_gym.compiled``: what the compiled loop relies on beyond numba itself."""

from __future__ import annotations

import sys
from typing import NamedTuple

import numpy as np
import pytest

from venn_gym.compiled import HAVE_NUMBA, borrowed, compiled

pytestmark = pytest.mark.skipif(not HAVE_NUMBA, reason="without numba, borrowed is the identity")


class Knobs(NamedTuple):
    weights: np.ndarray
    scale: float


@compiled
def _write_through_borrowed(state, knobs, rounds):
    """Borrow a nested tuple, write through it across calls and slices, return a sum."""
    times, (counts, flags) = borrowed(state)
    total = 0.0
    for r in range(rounds):
        _bump(counts, flags, r)
        head = times[:2]  # a view of a borrowed array is borrowed too
        head[0] += knobs.scale * knobs.weights[0]
        total += times.sum()
    return total


@compiled
def _bump(counts, flags, r):
    counts[r % len(counts)] += 1
    flags[0] = True


def test_borrowed_arrays_are_the_callers_arrays_and_leave_their_reference_counts_alone():
    times, counts, flags = np.zeros(3), np.zeros(4, dtype=np.int64), np.zeros(1, dtype=np.bool_)
    knobs = Knobs(np.array([2.0]), 0.5)
    before = [sys.getrefcount(a) for a in (times, counts, flags)]
    total = _write_through_borrowed((times, (counts, flags)), knobs, 10)
    assert times.tolist() == [10.0, 0.0, 0.0] and counts.tolist() == [3, 3, 2, 2] and flags[0]
    assert total == sum(float(k) for k in range(1, 11))
    assert [sys.getrefcount(a) for a in (times, counts, flags)] == before


@compiled
def _borrow_as_is(value):
    return borrowed(value)


def test_borrowed_passes_what_is_not_an_array_as_it_is():
    knobs = Knobs(np.array([1.0]), 2.0)
    assert _borrow_as_is(3) == 3 and _borrow_as_is((1.5, 2)) == (1.5, 2)
    returned = _borrow_as_is(knobs)  # a NamedTuple keeps its class, and its arrays their counts
    assert type(returned) is Knobs and returned.scale == 2.0 and returned.weights[0] == 1.0
    assert borrowed(knobs) is knobs  # in Python, the identity
