"""What goes on the simulator's heap of job events (arrival, round close, round deadline, async
task end, horizon, release of a held round): their kinds and the heap's entries. These are not the scheduling events a
policy sees, and device check-ins never go on the heap."""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from . import matching


class EventKind(IntEnum):
    """What a job event is. The compiled matcher writes the same values as plain ints. At equal
    times the smaller kind is handled first: a round closes before its deadline fails it."""

    CLOSE = matching.CLOSE
    DEADLINE = matching.DEADLINE
    TASK_END = matching.TASK_END
    ARRIVAL = matching.ARRIVAL
    HORIZON = matching.HORIZON
    RELEASE = matching.HORIZON + 1  # a held round is requested again (the matcher never writes it)


# The kinds as module constants, for the event loop: an attribute of an Enum class costs ten
# times a global (the class's metaclass defines __getattr__).
CLOSE, DEADLINE, TASK_END = EventKind.CLOSE, EventKind.DEADLINE, EventKind.TASK_END
ARRIVAL, HORIZON, RELEASE = EventKind.ARRIVAL, EventKind.HORIZON, EventKind.RELEASE
# Each kind at the index of its value, for the matcher's ints (EventKind(value) costs far more).
KIND_OF_VALUE = tuple(EventKind(value) for value in range(len(EventKind)))


class HeapEntry(NamedTuple):
    """One event on the heap. Entries order as tuples, by (time, kind, seq): ``seq`` is unique, so
    ``job`` and ``tag`` never decide the order."""

    time: float
    kind: EventKind
    seq: int  # push order: events of one time and kind are handled first in, first out
    job: int  # -1 for the horizon
    tag: int  # the round attempt the event belongs to (it is stale once the job's attempt moved on)
