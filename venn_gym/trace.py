"""Device check-in streams, produced one fixed-length chunk of time at a time.

A chunk ``k`` holds every check-in whose start lies in ``[k*chunk_s, (k+1)*chunk_s)``,
sorted by start. Chunks are made on demand, so a run of 150 simulated days never
holds more than one chunk of check-ins in memory, and chunk ``k`` depends only on
(trace, seed, k): every policy sees the same devices.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from .errors import ScenarioWarning, SpecError
from .limits import LIMITS, limit_text
from .seeds import CHECKIN_STREAM, stream

DAY_S = 86_400.0


@dataclass(frozen=True)
class CheckinChunk:
    """Check-ins of one chunk: start time, device index and end of the online window."""

    time: np.ndarray
    device: np.ndarray
    end: np.ndarray

    def __len__(self) -> int:
        return len(self.time)


class CheckinTrace(ABC):
    """A source of check-ins, infinite in time (finite tables repeat)."""

    chunk_s: float = 3600.0

    @abstractmethod
    def chunk(self, index: int, seed: int) -> CheckinChunk:
        """Check-ins starting in ``[index*chunk_s, (index+1)*chunk_s)``."""

    @abstractmethod
    def mean_rate_per_s(self) -> float:
        """Long-run average check-ins per second (for sizing and sanity checks)."""


@dataclass(frozen=True)
class DiurnalTrace(CheckinTrace):
    """Synthetic check-ins: a Poisson process with a daily cycle.

    The rate is ``mean * (1 + amplitude * cos(2 pi (t - peak) / day))``; each
    check-in picks a device uniformly from ``n_devices`` and stays online for a
    log-normal time (median ``window_median_s``, log-sd ``window_log_sd``).
    """

    n_devices: int
    checkins_per_day: float = 300_000.0
    amplitude: float = 0.5
    peak_hour: float = 2.0
    window_median_s: float = 900.0
    window_log_sd: float = 1.0
    chunk_s: float = 3600.0

    def __post_init__(self) -> None:
        _check_numbers(
            self,
            ("n_devices", "checkins_per_day", "amplitude", "peak_hour", "window_median_s", "window_log_sd", "chunk_s"),
            "trace",
        )
        if self.n_devices < 1:
            raise SpecError(f"n_devices must be >= 1, got {self.n_devices}", where="trace")
        if not 0 <= self.window_log_sd <= MAX_WINDOW_LOG_SD:
            raise SpecError(
                f"window_log_sd must be in [0, {MAX_WINDOW_LOG_SD}] (beyond it windows overflow to "
                f"infinity or zero), got {self.window_log_sd}",
                where="trace",
            )
        if not self.checkins_per_day > 0:
            raise SpecError(f"checkins_per_day must be > 0, got {self.checkins_per_day}", where="trace")
        if not 0 <= self.amplitude < 1:
            raise SpecError(f"amplitude must be in [0, 1), got {self.amplitude}", where="trace")
        if not self.window_median_s > 0:
            raise SpecError(f"window_median_s must be > 0, got {self.window_median_s}", where="trace")

    def mean_rate_per_s(self) -> float:
        return self.checkins_per_day / DAY_S

    def _rate(self, t: np.ndarray) -> np.ndarray:
        phase = 2 * np.pi * (t - self.peak_hour * 3600.0) / DAY_S
        return self.mean_rate_per_s() * (1 + self.amplitude * np.cos(phase))

    def chunk(self, index: int, seed: int) -> CheckinChunk:
        rng = stream(seed, CHECKIN_STREAM, index)
        t0 = index * self.chunk_s
        peak = self.mean_rate_per_s() * (1 + self.amplitude)
        # Thinning: draw at the peak rate, keep each with probability rate/peak.
        n = rng.poisson(peak * self.chunk_s)
        times = np.sort(t0 + rng.random(n) * self.chunk_s)
        times = times[rng.random(n) * peak < self._rate(times)]
        window = rng.lognormal(np.log(self.window_median_s), self.window_log_sd, len(times))
        device = rng.integers(0, self.n_devices, len(times))
        return CheckinChunk(times, device, times + window)


MAX_WINDOW_LOG_SD = 5.0  # a log-normal with a larger sd puts windows at 0 s or beyond 10^100 s


def _check_numbers(trace, fields, source) -> None:
    """Settings given through Python (not a scenario file, which checks them) must be real numbers."""
    for field in fields:
        value = getattr(trace, field)
        if (
            not isinstance(value, (int, float, np.integer, np.floating))
            or isinstance(value, bool)
            or not np.isfinite(value)
        ):
            raise SpecError(f"{field} must be a finite number, got {value!r}", source=source)


def _warn_of_overlaps(
    start: np.ndarray, end: np.ndarray, device: np.ndarray, by_start: np.ndarray, period_s: float, source: str
) -> None:
    """Duplicate rows and windows of one device that overlap (also across the period's repeat)
    run, but rarely as meant: a device given a task is busy until its window ends and skips the
    check-ins inside it, while the supply estimates count every row. ``by_start``: the rows by
    start, a stable sort."""
    # Rows by device, start, end, row: a stable sort by device of the rows by start, unless two
    # windows of one device start together (then their ends order them too). A third of the cost
    # of the three-key lexsort, on a large table.
    by_device = by_start[np.argsort(device[by_start], kind="stable")]
    d, s = device[by_device], start[by_device]
    if ((d[1:] == d[:-1]) & (s[1:] == s[:-1])).any():
        by_device = np.lexsort((end, start, device))
        d, s = device[by_device], start[by_device]
    e = end[by_device]
    same = d[1:] == d[:-1]
    duplicate = same & (s[1:] == s[:-1]) & (e[1:] == e[:-1])
    # The running latest end within each device: devices are moved apart in time so that one
    # cumulative maximum over the whole table never carries an end into the next device.
    spread = float(e.max() - s.min()) + 1.0
    latest_end = np.maximum.accumulate(e + d * spread) - d * spread
    overlap = same & (s[1:] < latest_end[:-1]) & ~duplicate
    if duplicate.any():
        k = int(np.flatnonzero(duplicate)[0])
        warnings.warn(
            ScenarioWarning(
                f"{source}: {int(duplicate.sum()):,} row(s) repeat another row exactly (first: row "
                f"{by_device[k + 1]} = row {by_device[k]}, device {d[k]}); each counts as a check-in in supply "
                "estimates: remove them if the table was joined twice"
            ),
            stacklevel=3,
        )
    first = np.r_[True, ~same]
    group_end = np.maximum.reduceat(e, np.flatnonzero(first))
    wraps = s[first] + period_s < group_end  # a device's last window runs into its first one, one period on
    if overlap.any() or wraps.any():
        example = (
            f"rows {by_device[int(np.flatnonzero(overlap)[0])]} and {by_device[int(np.flatnonzero(overlap)[0]) + 1]}"
            if overlap.any()
            else f"device {d[first][int(np.flatnonzero(wraps)[0])]} across the period"
        )
        warnings.warn(
            ScenarioWarning(
                f"{source}: {int(overlap.sum() + wraps.sum()):,} check-in window(s) overlap another window of the "
                f"same device (first: {example}); a device given a task is busy until its window ends and skips "
                "check-ins inside it, but supply estimates count every row: merge overlapping windows"
            ),
            stacklevel=3,
        )


@dataclass(frozen=True, eq=False)
class TableTrace(CheckinTrace):
    """Check-ins read from a table (one row per check-in), repeated every ``period_s``.

    Rows need not be sorted; windows that run past the period stay as they are.
    """

    start: np.ndarray
    end: np.ndarray
    device: np.ndarray
    period_s: float
    chunk_s: float = 3600.0
    source: str = "trace"

    def __post_init__(self) -> None:
        _check_numbers(self, ("period_s", "chunk_s"), self.source)
        start = np.asarray(self.start, dtype=float)
        end = np.asarray(self.end, dtype=float)
        device = np.asarray(self.device, dtype=np.int64)
        if not (len(start) == len(end) == len(device)) or len(start) == 0:
            raise SpecError("start, end and device must be non-empty and of equal length", source=self.source)
        for name, arr in (("start", start), ("end", end)):
            bad = np.flatnonzero(~np.isfinite(arr))
            if len(bad):
                raise SpecError("is not a finite number", source=self.source, where=f"row {bad[0]}, {name}")
        bad = np.flatnonzero(end <= start)
        if len(bad):
            raise SpecError(
                f"end {end[bad[0]]} is not after start {start[bad[0]]}", source=self.source, where=f"row {bad[0]}"
            )
        bad = np.flatnonzero((start < 0) | (start >= self.period_s))
        if len(bad):
            raise SpecError(
                f"start {start[bad[0]]} is outside the period [0, {self.period_s})",
                source=self.source,
                where=f"row {bad[0]}",
            )
        if device.min() < 0:
            raise SpecError("device indices must be >= 0", source=self.source, where=f"row {int(np.argmin(device))}")
        if device.max() >= LIMITS["devices"]:
            raise SpecError(
                f"device index {int(device.max()):,} is beyond the limit on devices ({limit_text('devices')})",
                source=self.source,
                where=f"row {int(np.argmax(device))}",
            )
        if not self.chunk_s / self.period_s <= LIMITS["repeats_per_chunk"]:
            raise SpecError(
                f"period_s {self.period_s:g} repeats the table {self.chunk_s / self.period_s:,.0f} times "
                f"in one chunk of {self.chunk_s:g} s; at most {limit_text('repeats_per_chunk')}",
                source=self.source,
            )
        order = np.argsort(start, kind="stable")
        _warn_of_overlaps(start, end, device, order, self.period_s, self.source)
        object.__setattr__(self, "start", start[order])
        object.__setattr__(self, "end", end[order])
        object.__setattr__(self, "device", device[order])

    @property
    def n_devices(self) -> int:
        return int(self.device.max()) + 1

    def mean_rate_per_s(self) -> float:
        return len(self.start) / self.period_s

    def chunk(self, index: int, seed: int) -> CheckinChunk:
        t0, t1 = index * self.chunk_s, (index + 1) * self.chunk_s
        pieces = []
        for rep in range(int(t0 // self.period_s), int(np.ceil(t1 / self.period_s))):
            offset = rep * self.period_s
            lo, hi = np.searchsorted(self.start, [t0 - offset, t1 - offset])
            if hi > lo:
                pieces.append((self.start[lo:hi] + offset, self.device[lo:hi], self.end[lo:hi] + offset))
        if not pieces:
            empty = np.empty(0)
            return CheckinChunk(empty, np.empty(0, dtype=np.int64), empty)
        return CheckinChunk(*(np.concatenate(p) for p in zip(*pieces)))
