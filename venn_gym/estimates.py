"""What the simulator estimates from the check-ins and tasks it has seen, for the scheduler's view:
each device class's check-in rate, and the 95th percentile of recent task times per speed tier.
Both are refreshed once a chunk of the trace (an hour by default): percentiles or sums per
scheduling event would dominate run time."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from .compiled import compiled
from .matching import RESPONSE_SAMPLE
from .trace import CheckinTrace

WINDOW_CHUNKS = 24  # chunks of the trace in the supply estimate


class SupplyEstimate:
    """Check-ins per second of each device class over the last :data:`WINDOW_CHUNKS` chunks of the
    trace; before any, each class's population share of the trace's mean rate."""

    def __init__(self, class_share: np.ndarray, trace: CheckinTrace) -> None:
        self._class_share = class_share
        self._trace = trace
        self._counts: deque[np.ndarray] = deque(maxlen=WINDOW_CHUNKS)
        self._cache: np.ndarray | None = None

    @property
    def chunks(self) -> int:
        """Chunks in the estimate."""
        return len(self._counts)

    def add_chunk(self, checkin_class: np.ndarray) -> None:
        """Count a whole chunk's check-ins (``checkin_class``: each one's device class)."""
        self._counts.append(np.bincount(checkin_class, minlength=len(self._class_share)))
        self._cache = None

    def per_s(self) -> np.ndarray:
        """The estimate, read-only (a new array once a chunk)."""
        if self._cache is None:
            if not self._counts:
                supply = self._class_share * self._trace.mean_rate_per_s()
            else:
                supply = np.sum(self._counts, axis=0) / (len(self._counts) * self._trace.chunk_s)
            supply.setflags(write=False)
            self._cache = supply
        return self._cache


class ResponseP95:
    """The 95th percentile of recent successful task times, per speed tier (NaN for a tier without
    any) and over all, from a ring buffer of the latest :data:`~venn_gym.matching.RESPONSE_SAMPLE`
    that the matcher writes: ``sample`` is (task times, their devices' tiers with -1 for an empty
    slot, next write position)."""

    def __init__(self, speed_tiers: int) -> None:
        self._times = np.zeros(RESPONSE_SAMPLE)
        self._tiers = np.full(RESPONSE_SAMPLE, -1, dtype=np.int64)
        self._grouped = np.empty(RESPONSE_SAMPLE)  # tier_percentiles' scratch
        self.sample = (self._times, self._tiers, np.zeros(1, dtype=np.int64))
        self.per_tier = np.full(speed_tiers, np.nan)
        self.overall = math.nan

    def refresh(self) -> None:
        result = np.empty(len(self.per_tier) + 1)
        tier_percentiles(self._times, self._tiers, 0.95, self._grouped, result)
        self.per_tier, self.overall = result[:-1], float(result[-1])


@compiled
def _order_statistic_pair(values: np.ndarray, k: int) -> tuple[float, float]:
    """The k-th and (k+1)-th smallest of ``values`` (which it reorders), k+1 clipped to the last."""
    values[:] = np.partition(values, k)
    upper = values[k + 1 :].min() if k + 1 < len(values) else values[k]
    return values[k], upper


@compiled
def _linear_percentile(values: np.ndarray, fraction: float) -> float:
    """numpy's ``percentile(values, 100 * fraction)`` (method "linear"), the same float operations in
    the same order, so bit for bit; NaN for no values. Reorders ``values``."""
    n = len(values)
    if n == 0:
        return np.nan
    virtual = (n - 1) * fraction
    below = math.floor(virtual)
    if virtual >= n - 1:
        below = n - 1
    lower, upper = _order_statistic_pair(values, int(below))
    gamma = virtual - below
    diff = upper - lower
    if gamma >= 0.5:
        return upper - diff * (1 - gamma)
    return lower + diff * gamma


@compiled
def tier_percentiles(
    times: np.ndarray, tiers: np.ndarray, fraction: float, grouped: np.ndarray, out: np.ndarray
) -> None:
    """``out[u]``: the linear percentile (``fraction`` of the way) of the ``times`` whose tier is
    ``u``, for u < len(out) - 1, NaN for none; ``out[-1]``: that of all times with a tier >= 0.
    ``grouped`` (as long as ``times``) is scratch. One compiled pass: numpy's percentile per tier,
    called once a chunk, cost a tenth of a long run's simulation time."""
    n_tiers = len(out) - 1
    start = np.zeros(n_tiers + 2, dtype=np.int64)
    for i in range(len(tiers)):
        if tiers[i] >= 0:
            start[tiers[i] + 2] += 1
    for u in range(n_tiers):
        start[u + 2] += start[u + 1]
    for i in range(len(tiers)):  # a counting sort by tier
        if tiers[i] >= 0:
            grouped[start[tiers[i] + 1]] = times[i]
            start[tiers[i] + 1] += 1
    for u in range(n_tiers):
        out[u] = _linear_percentile(grouped[start[u] : start[u + 1]], fraction)
    out[n_tiers] = _linear_percentile(grouped[: start[n_tiers]], fraction)
