"""The simulator's heap of job events (arrival, round close, round deadline, async task end,
horizon, release of a held round): their kinds, and the heap itself as arrays that compiled code
pushes to and pops from. These are not the scheduling events a policy sees, and device check-ins
never go on the heap."""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from . import matching
from .compiled import compiled


class EventKind(IntEnum):
    """What a job event is. The compiled matcher writes the same values as plain ints. At equal
    times the smaller kind is handled first: a round closes before its deadline fails it."""

    CLOSE = matching.CLOSE
    DEADLINE = matching.DEADLINE
    TASK_END = matching.TASK_END
    ARRIVAL = matching.ARRIVAL
    HORIZON = matching.HORIZON
    RELEASE = matching.HORIZON + 1  # a held round is requested again (the matcher never writes it)


# The kinds the simulation pushes or checks in Python, as module constants: an attribute of an
# Enum class costs ten times a global (the class's metaclass defines __getattr__).
TASK_END, ARRIVAL, HORIZON, RELEASE = EventKind.TASK_END, EventKind.ARRIVAL, EventKind.HORIZON, EventKind.RELEASE


class EventHeap:
    """A binary heap of job events in arrays (``arrays``: time, kind, seq, job, tag, and ``meta`` =
    [size, pushes so far]), ordered by time, then kind, then push order (``seq``, unique, so ``job``
    and ``tag``, the round attempt an event belongs to, never decide the order).
    Compiled code pushes and pops through :func:`heap_push` and :func:`heap_pop`; it cannot grow the
    arrays, so whoever calls it first makes room (:meth:`make_room`)."""

    def __init__(self, capacity: int = 64) -> None:
        self.meta = np.zeros(2, dtype=np.int64)
        int_arrays = (np.empty(capacity, dtype=np.int64) for _ in range(4))  # kind, seq, job, tag
        self.arrays = (np.empty(capacity), *int_arrays, self.meta)

    def __len__(self) -> int:
        return int(self.meta[0])

    def make_room(self, n: int) -> None:
        """Room for ``n`` more entries (tuples holding the old arrays are stale once they grow)."""
        if len(self) + n > len(self.arrays[0]):
            self.arrays = grown(self.arrays, len(self) + n)

    def push(self, time: float, kind: EventKind, job: int, tag: int) -> None:
        self.make_room(1)
        heap_push(self.arrays, time, int(kind), job, tag)

    def top_time(self) -> float:
        return float(self.arrays[0][0]) if len(self) else np.inf


def grown(buffer: tuple, needed: int) -> tuple:
    """A buffer of equally long arrays and, last, an array whose first entry counts the entries in
    use (the heap's arrays, ``event_loop.round_log``, ``event_loop.event_out``), with room for
    ``needed`` entries (at least twice its length) and those entries kept; the count stays itself."""
    *arrays, count = buffer
    capacity = max(needed, 2 * len(arrays[0]))
    kept = int(count[0])
    bigger = []
    for a in arrays:
        b = np.empty(capacity, dtype=a.dtype)
        b[:kept] = a[:kept]
        bigger.append(b)
    return (*bigger, count)


@compiled
def _comes_first(heap, a, b):
    """Whether entry ``a`` orders before entry ``b``: by time, then kind, then push order."""
    time, kind, seq = heap[0], heap[1], heap[2]
    if time[a] != time[b]:
        return time[a] < time[b]
    if kind[a] != kind[b]:
        return kind[a] < kind[b]
    return seq[a] < seq[b]


@compiled
def _swap(heap, a, b):
    heap[0][a], heap[0][b] = heap[0][b], heap[0][a]
    heap[1][a], heap[1][b] = heap[1][b], heap[1][a]
    heap[2][a], heap[2][b] = heap[2][b], heap[2][a]
    heap[3][a], heap[3][b] = heap[3][b], heap[3][a]
    heap[4][a], heap[4][b] = heap[4][b], heap[4][a]


@compiled
def heap_push(heap, time, kind, job, tag):
    """Push an entry (the arrays must have room); its seq is the number of pushes before it."""
    meta = heap[5]
    i = meta[0]
    heap[0][i], heap[1][i], heap[2][i], heap[3][i], heap[4][i] = time, kind, meta[1], job, tag
    meta[0] += 1
    meta[1] += 1
    while i > 0:
        parent = (i - 1) // 2
        if not _comes_first(heap, i, parent):
            break
        _swap(heap, i, parent)
        i = parent


@compiled
def heap_pop(heap):
    """Remove the first entry; returns its (time, kind, job, tag). The heap must not be empty."""
    meta = heap[5]
    time, kind, job, tag = heap[0][0], heap[1][0], heap[3][0], heap[4][0]
    last = meta[0] - 1
    meta[0] = last
    if last > 0:
        heap[0][0], heap[1][0], heap[2][0], heap[3][0], heap[4][0] = (
            heap[0][last],
            heap[1][last],
            heap[2][last],
            heap[3][last],
            heap[4][last],
        )
        i = 0
        while True:
            first = i
            for child in (2 * i + 1, 2 * i + 2):
                if child < last and _comes_first(heap, child, first):
                    first = child
            if first == i:
                break
            _swap(heap, i, first)
            i = first
    return time, kind, job, tag
