"""What a scheduler may see: the same for heuristic baselines and learned agents."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from .compiled import compiled


class _ValueEquality:
    """Compare by value, arrays included (NaN equals NaN), so that two runs' views can be compared."""

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in fields(self))

    __hash__ = None


def _same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == b.dtype.kind == "f"))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


@dataclass(frozen=True, eq=False)
class StaticInfo(_ValueEquality):
    """Facts fixed for a whole run.

    Devices fall into classes: one class per (eligibility pattern, speed tier).
    ``class_eligible[c, r]`` says whether class c satisfies requirement r;
    ``job_requirement[j]`` is job j's requirement index (jobs with the same
    requirement form a group).
    """

    n_jobs: int
    requirement_labels: tuple[str, ...]
    class_eligible: np.ndarray
    class_tier: np.ndarray
    speed_tiers: int
    job_requirement: np.ndarray
    job_participants: np.ndarray
    job_rounds: np.ndarray
    job_deadline_s: np.ndarray

    @property
    def n_classes(self) -> int:
        return len(self.class_tier)

    @property
    def n_requirements(self) -> int:
        return len(self.requirement_labels)

    @property
    def job_eligible(self) -> np.ndarray:
        """``[c, j]``: may a device of class c serve job j."""
        return self.class_eligible[:, self.job_requirement]


@dataclass(frozen=True, eq=False)
class SchedulerView(_ValueEquality):
    """The state at a scheduling event. Arrays over jobs have length ``n_jobs``;
    only entries with ``active`` set are jobs in the system.

    ``open_demand``: devices the current round still asks for;
    ``attained``: results the job has collected so far (its attained service);
    ``round_held_until_s``: when a round the scheduler held back is requested again (NaN: not
    held; a held round keeps its ``open_demand`` but gets no device);
    ``class_supply_per_s``: check-ins per second of each device class over the
    last day (from check-ins already seen; before any, the population share of
    the trace's mean rate); ``tier_response_p95_s``: 95th-percentile task time of
    recent results per speed tier, and over all tiers.
    """

    time_s: float
    static: StaticInfo
    active: np.ndarray
    arrival_s: np.ndarray
    rounds_done: np.ndarray
    open_demand: np.ndarray
    assigned: np.ndarray
    results: np.ndarray
    round_request_s: np.ndarray
    round_held_until_s: np.ndarray
    attained: np.ndarray
    failed_rounds: np.ndarray
    last_scheduling_delay_s: np.ndarray
    last_response_s: np.ndarray
    class_supply_per_s: np.ndarray
    tier_response_p95_s: np.ndarray
    all_response_p95_s: float

    @property
    def remaining_demand(self) -> np.ndarray:
        """Devices each job still needs: the rest of its current round plus every round to come
        (its remaining service, in devices)."""
        return remaining_demand(
            self.open_demand, self.rounds_done, self.static.job_rounds, self.static.job_participants
        )


@compiled
def remaining_demand(open_demand, rounds_done, job_rounds, job_participants):
    """:attr:`SchedulerView.remaining_demand` of these arrays, compiled: Venn asks for it at every
    scheduling event (and its kernel, with the simulation's arrays)."""
    demand = np.empty(len(open_demand))
    for j in range(len(open_demand)):
        rounds_after = max(job_rounds[j] - rounds_done[j] - 1, 0)
        demand[j] = float(open_demand[j]) + float(rounds_after) * float(job_participants[j])
    return demand
