"""What the simulator estimates from the check-ins and tasks it has seen, for the scheduler's view:
each device class's check-in rate, and the 95th percentile of recent task times per speed tier.
Both are refreshed once a chunk of the trace (an hour by default): percentiles or sums per
scheduling event would dominate run time."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

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
        self.sample = (self._times, self._tiers, np.zeros(1, dtype=np.int64))
        self.per_tier = np.full(speed_tiers, np.nan)
        self.overall = math.nan

    def refresh(self) -> None:
        seen = self._tiers >= 0
        times, tiers = self._times[seen], self._tiers[seen]
        self.per_tier = np.array(
            [np.percentile(times[tiers == u], 95) if (tiers == u).any() else np.nan for u in range(len(self.per_tier))]
        )
        self.overall = float(np.percentile(times, 95)) if len(times) else math.nan
