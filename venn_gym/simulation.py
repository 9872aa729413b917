"""The discrete-event simulator of a shared, ephemeral device pool.

Time is continuous (seconds). The event heap holds only job events (arrival,
round close, round deadline, async task end); device check-ins are never put
on it. Between two scheduling events the allocation (a score per device class
and job) does not change, so the check-ins of that interval are matched in bulk
with array operations: each check-in goes to the highest-scoring eligible job
with open demand, ties broken uniformly at random, and a segment of check-ins
stops at the first one that fills a request or completes a quorum.

Exogenous randomness (check-ins, the noise on task times, the tie-breaking
draws) comes from streams keyed by (scenario seed, chunk), so every policy
sees the same devices, jobs and task times.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from . import requirements
from .errors import IllegalActionError, VennGymError
from .jobs import ASYNC, DEADLINE_FROM_REQUEST
from .metrics import JobRecord, RoundRecord, RunResult
from .scenario import Scenario
from .view import SchedulerView, StaticInfo

# Event kinds, in the order they are handled when they fall at the same time.
_CLOSE, _DEADLINE, _TASK_END, _ARRIVAL, _HORIZON = range(5)
_SEGMENT = 4096  # check-ins per matching step
_SUPPLY_WINDOW_CHUNKS = 24  # chunks of the trace (1 h by default) in the supply estimate
_RESPONSE_SAMPLE = 8192  # recent task times kept (with their tier) for g_u


@dataclass(frozen=True)
class SchedulingEvent:
    """A point where the allocation may change: ``arrival``, ``request``,
    ``round_end`` (``success`` says how), ``job_end`` or ``horizon``."""

    time_s: float
    kind: str
    job: int = -1
    success: bool = True


@dataclass(frozen=True)
class PendingCheckin:
    """A check-in waiting for a device-level decision. ``candidates``: the jobs
    it may go to (eligible, open demand, equal best score), ascending;
    ``tie_draw``: this check-in's uniform draw, which the simulator itself uses
    to pick among candidates (``candidates[int(tie_draw * len(candidates))]``)."""

    time_s: float
    device: int
    device_class: int
    window_end_s: float
    candidates: np.ndarray
    tie_draw: float


class SimulationStuck(VennGymError, RuntimeError):
    """No job can make progress (for example no eligible device ever checks in)."""


class Simulation:
    """One run of a scenario. Drive it with :meth:`advance` and :meth:`set_scores`,
    or let :func:`run_policy` do so."""

    def __init__(self, scenario: Scenario, keep_rounds: bool = True, record_assignments: bool = False):
        self.scenario = scenario
        self.keep_rounds = keep_rounds
        self.record_assignments = record_assignments
        pop = scenario.population
        jobs = scenario.workload.jobs
        n_jobs = len(jobs)

        # Requirements and device classes (eligibility pattern x speed tier).
        req_keys: dict[str, int] = {}
        self._job_req = np.array([req_keys.setdefault(requirements.key(j.requirement), len(req_keys)) for j in jobs])
        req_specs = {k: j.requirement for j in jobs for k in [requirements.key(j.requirement)]}
        eligible = np.stack(
            [requirements.evaluate(req_specs[k], pop.attributes, len(pop)) for k in req_keys], axis=1
        )
        patterns, pattern_of_device = np.unique(eligible, axis=0, return_inverse=True)
        tiers = scenario.speed_tiers
        # Tier 0 is the fastest: rank devices by the time of a typical task.
        typical_time = 30.0 * pop.compute_factor + 80.0 / pop.bandwidth_mbps
        rank = np.argsort(np.argsort(typical_time, kind="stable"), kind="stable")
        self._device_tier = (rank * tiers // len(pop)).astype(np.int64)
        self._device_class = pattern_of_device.reshape(-1).astype(np.int64) * tiers + self._device_tier
        n_classes = len(patterns) * tiers
        class_eligible = np.repeat(patterns, tiers, axis=0)
        self.static = StaticInfo(
            n_jobs=n_jobs,
            requirement_labels=tuple(requirements.label(req_specs[k]) for k in req_keys),
            class_eligible=class_eligible,
            class_tier=np.tile(np.arange(tiers), len(patterns)),
            speed_tiers=tiers,
            job_requirement=self._job_req,
            job_participants=np.array([j.participants for j in jobs], dtype=np.int64),
            job_rounds=np.array([j.rounds for j in jobs], dtype=np.int64),
            job_deadline_s=np.array([j.deadline_s for j in jobs], dtype=float),
        )
        self._job_eligible = self.static.job_eligible  # [class, job]
        self._arrival = np.array([j.arrival_s for j in jobs], dtype=float)
        self._class_prior = np.bincount(self._device_class, minlength=n_classes) / len(pop)
        self._compute = np.asarray(pop.compute_factor, dtype=float)
        self._bandwidth = np.asarray(pop.bandwidth_mbps, dtype=float)
        self._workload = np.array([j.workload_s for j in jobs], dtype=float)
        self._transfer = np.array([16.0 * j.model_size_mb for j in jobs], dtype=float)  # 2 x MB x 8 bit
        self._quorum = np.array([j.quorum_count for j in jobs], dtype=np.int64)
        self._is_async = np.array([j.mode == ASYNC for j in jobs])
        self._buffer = np.array([j.buffer_size for j in jobs], dtype=np.int64)
        self._deadline_at_request = scenario.round_deadline_from == DEADLINE_FROM_REQUEST
        self._reset_state()

    # ------------------------------------------------------------------ state
    def _reset_state(self) -> None:
        n_jobs, n_classes = self.static.n_jobs, self.static.n_classes
        jobs = self.scenario.workload.jobs
        self.now = 0.0
        self.done = False
        self._heap: list[tuple] = []
        self._seq = 0
        for j, job in enumerate(jobs):
            self._push(job.arrival_s, _ARRIVAL, j, 0)
        if self.scenario.horizon_s is not None:
            self._push(self.scenario.horizon_s, _HORIZON, -1, 0)
        self._active = np.zeros(n_jobs, dtype=bool)
        self._ended = np.zeros(n_jobs, dtype=bool)
        self._end_time = np.full(n_jobs, np.nan)
        self._open = np.zeros(n_jobs, dtype=np.int64)
        self._assigned = np.zeros(n_jobs, dtype=np.int64)
        self._attempt = np.zeros(n_jobs, dtype=np.int64)
        self._rounds_done = np.zeros(n_jobs, dtype=np.int64)
        self._round_request = np.zeros(n_jobs)
        self._dispatch_time = np.full(n_jobs, np.nan)
        self._quorum_dispatch = np.full(n_jobs, np.nan)
        self._last_assign = np.zeros(n_jobs)
        self._close_candidate = np.full(n_jobs, np.inf)
        self._success_parts: list[list[np.ndarray]] = [[] for _ in range(n_jobs)]
        self._success_count = np.zeros(n_jobs, dtype=np.int64)
        self._quorum_times: list[np.ndarray | None] = [None] * n_jobs
        self._attained = np.zeros(n_jobs, dtype=np.int64)
        self._failed_rounds = np.zeros(n_jobs, dtype=np.int64)
        self._tasks = np.zeros(n_jobs, dtype=np.int64)
        self._dropped = np.zeros(n_jobs, dtype=np.int64)
        self._wasted = np.zeros(n_jobs, dtype=np.int64)
        self._stragglers = np.zeros(n_jobs, dtype=np.int64)
        self._sched_total = np.zeros(n_jobs)
        self._response_total = np.zeros(n_jobs)
        self._queuing_total = np.zeros(n_jobs)
        self._last_sched = np.zeros(n_jobs)
        self._last_response = np.zeros(n_jobs)
        self._async_ends: list[list[tuple[float, bool]]] = [[] for _ in range(n_jobs)]
        self._async_buffer = np.zeros(n_jobs, dtype=np.int64)
        self._rounds: list[RoundRecord] = []
        self._assignment_parts: list[dict[str, np.ndarray]] = []
        self._busy_until = np.full(len(self.scenario.population), -np.inf)
        self._scores = np.full((n_classes, n_jobs), -np.inf)
        self._targets_dirty = True
        self._target_table = np.full((n_classes, 1), -1, dtype=np.int64)
        self._target_count = np.zeros(n_classes, dtype=np.int64)
        self._chunk_index = -1
        self._pos = 0
        self._pending = -1
        self._stop_choices: int | None = None
        self._targets_version = 0
        self._contested_key: tuple | None = None
        self._contested: list[int] = []
        self._chunk_len = 0
        self._supply_counts: deque[np.ndarray] = deque(maxlen=_SUPPLY_WINDOW_CHUNKS)
        self._supply_cache: np.ndarray | None = None
        self._response_time = np.zeros(_RESPONSE_SAMPLE)
        self._response_tier = np.full(_RESPONSE_SAMPLE, -1)
        self._response_next = 0
        self._tier_p95 = np.full(self.static.speed_tiers, np.nan)
        self._all_p95 = math.nan
        self.checkins_seen = 0
        self._load_chunk(0)

    def _push(self, time: float, kind: int, job: int, tag: int) -> None:
        heapq.heappush(self._heap, (time, kind, self._seq, job, tag))
        self._seq += 1

    # -------------------------------------------------------------- check-ins
    def _load_chunk(self, index: int) -> None:
        if self._chunk_index >= 0:
            counts = np.bincount(self._c_class, minlength=self.static.n_classes)
            self._supply_counts.append(counts)
            self._supply_cache = None
            self._update_response_p95()
        trace = self.scenario.trace
        chunk = trace.chunk(index, self.scenario.seed)
        n = len(chunk)
        if n and chunk.device.max() >= len(self._busy_until):
            raise VennGymError(
                f"trace chunk {index} names device {int(chunk.device.max())}, "
                f"beyond the population of {len(self._busy_until)}"
            )
        rng = np.random.default_rng([self.scenario.seed, 0x5EED, index])
        self._c_time = chunk.time
        self._c_device = chunk.device
        self._c_end = chunk.end
        self._c_class = self._device_class[chunk.device]
        sd = self.scenario.task_noise_log_sd
        self._c_noise = rng.lognormal(0.0, sd, n) if sd > 0 else np.ones(n)
        self._c_tie = rng.random(n)
        self._chunk_index = index
        self._chunk_end_time = (index + 1) * trace.chunk_s
        self._pos = 0
        self._chunk_len = n
        self.checkins_seen += n

    def _update_response_p95(self) -> None:
        # Refreshed once a chunk (an hour by default): percentiles per event would dominate run time.
        seen = self._response_tier >= 0
        times, tiers = self._response_time[seen], self._response_tier[seen]
        self._tier_p95 = np.array([np.percentile(times[tiers == u], 95) if (tiers == u).any() else np.nan
                                   for u in range(self.static.speed_tiers)])
        self._all_p95 = float(np.percentile(times, 95)) if len(times) else math.nan

    def _supply_per_s(self) -> np.ndarray:
        """Check-ins per second per class over the last chunks (read-only; changes once a chunk)."""
        if self._supply_cache is None:
            if not self._supply_counts:
                supply = self._class_prior * self.scenario.trace.mean_rate_per_s()
            else:
                total = np.sum(self._supply_counts, axis=0)
                supply = total / (len(self._supply_counts) * self.scenario.trace.chunk_s)
            supply.setflags(write=False)
            self._supply_cache = supply
        return self._supply_cache

    # ------------------------------------------------------------ allocation
    def set_scores(self, scores: np.ndarray) -> None:
        """Set the allocation until the next scheduling event.

        ``scores`` has shape ``(n_classes, n_jobs)`` or ``(n_jobs,)`` (the same
        for every class). A device goes to the highest-scoring job that it is
        eligible for and that has open demand; ``-inf`` means never; equal
        scores are broken uniformly at random per device.
        """
        scores = np.asarray(scores, dtype=float)
        shape = (self.static.n_classes, self.static.n_jobs)
        if scores.shape == (self.static.n_jobs,):
            scores = np.broadcast_to(scores, shape)
        if scores.shape != shape:
            raise IllegalActionError(f"scores must have shape {shape} or ({shape[1]},), got {scores.shape}")
        if np.isnan(scores).any() or np.isposinf(scores).any():
            raise IllegalActionError("scores must not be NaN or +inf")
        self._scores = np.array(scores)
        self._targets_dirty = True

    def _refresh_targets(self) -> None:
        allowed = self._job_eligible & (self._open > 0)[None, :] & np.isfinite(self._scores)
        masked = np.where(allowed, self._scores, -np.inf)
        best = masked.max(axis=1)
        tied = allowed & (masked == best[:, None])
        self._target_count = tied.sum(axis=1)
        width = int(self._target_count.max(initial=0))
        if width <= 1:  # no ties: one target per class (or none)
            table = np.where(self._target_count > 0, masked.argmax(axis=1), -1)[:, None]
        else:
            order = np.argsort(~tied, axis=1, kind="stable")[:, :width]
            table = np.where(np.arange(width)[None, :] < self._target_count[:, None], order, -1)
        self._target_table = table
        self._targets_dirty = False
        self._targets_version += 1

    # --------------------------------------------------------------- matching
    def _next_event_time(self) -> float:
        return self._heap[0][0] if self._heap else math.inf

    def _match_until(self, t_end: float) -> None:
        """Match check-ins with start < t_end (t_end shrinks if a quorum forms earlier)."""
        while self._pending < 0:
            t_end = min(t_end, self._next_event_time())
            if self._pos >= self._chunk_len:
                if self._chunk_end_time >= t_end:
                    return
                if self._chunk_end_time > self.scenario.max_sim_days * 86_400.0:
                    raise SimulationStuck(
                        f"simulated {self.scenario.max_sim_days} days without the jobs finishing; "
                        f"jobs still running: {np.flatnonzero(self._active).tolist()}"
                    )
                self._load_chunk(self._chunk_index + 1)
                continue
            a = self._pos
            b = min(self._chunk_len, a + _SEGMENT)
            stop = -1
            if self._stop_choices is not None and self._open.any():
                # Device-level control: the first contested check-in before t_end goes to
                # the caller; the segment ends there.
                if self._targets_dirty:
                    self._refresh_targets()
                stop = self._next_contested(a, b)
                if stop >= 0 and self._c_time[stop] < t_end:
                    if stop == a:
                        self._pending = a
                        return
                    b = stop
                else:
                    stop = -1
            if self._c_time[b - 1] >= t_end:
                b = int(self._c_time.searchsorted(t_end))
                if b <= a:
                    return
            self._match_segment(a, b, stop)

    def _match_segment(self, a: int, b: int, stop: int) -> None:
        """Match check-ins [a, b); ``stop`` (if >= 0, equal to b) is a contested check-in
        to hand over after them."""
        if not self._open.any():  # open demands are never negative
            self._pos = b
            return
        if self._targets_dirty:
            self._refresh_targets()
        cls = self._c_class[a:b]
        pick = (self._c_tie[a:b] * self._target_count[cls]).astype(np.int64)
        np.minimum(pick, self._target_table.shape[1] - 1, out=pick)
        target = self._target_table[cls, pick]
        device = self._c_device[a:b]
        busy = self._busy_until[device] > self._c_time[a:b]
        target[busy] = -1
        pos = np.flatnonzero(target >= 0)
        if len(pos) == 0:
            self._pos = b
            if b == stop:
                self._pending = stop
            return
        end = b
        # A device checking in again while its first (tentatively assigned) window is
        # still open is busy; one checking in after it ended is settled in the next segment.
        if len(pos) > 1:
            devices = device[pos]
            ordered = np.sort(devices)
            if (ordered[1:] == ordered[:-1]).any():
                _, first, inverse = np.unique(devices, return_index=True, return_inverse=True)
                first_at = first[inverse]
                later = first_at != np.arange(len(pos))
                busy_again = later & (self._c_time[a + pos] < self._c_end[a + pos[first_at]])
                free_again = np.flatnonzero(later & ~busy_again)
                if len(free_again):
                    end = a + int(pos[free_again[0]])
                    busy_again[free_again[0]:] = True
                pos = pos[~busy_again]
        jobs_at = target[pos]
        take = len(pos)
        n_jobs = self.static.n_jobs
        # Stop at the check-in that fills a request.
        counts = np.bincount(jobs_at, minlength=n_jobs)
        filled = np.flatnonzero((counts >= self._open) & (self._open > 0))
        if len(filled):
            by_job = np.argsort(jobs_at, kind="stable")
            first_of_job = np.cumsum(counts) - counts
            kth = int(by_job[first_of_job[filled] + self._open[filled] - 1].min())
            if kth + 1 < take:
                take, end = kth + 1, a + int(pos[kth]) + 1
        # Task outcomes of the tentative assignments.
        idx = a + pos[:take]
        jobs_at = jobs_at[:take]
        dev, duration, finish, ok = self._task_outcomes(idx, jobs_at)
        # A quorum that forms inside the segment ends it: later check-ins must not join that round.
        new_results = np.bincount(jobs_at[ok], minlength=n_jobs)
        ready = (new_results > 0) & (self._success_count + new_results >= self._quorum) & ~self._is_async
        quorum_at = math.inf
        for j in np.flatnonzero(ready):
            quorum_at = min(quorum_at, self._quorum_time(j, finish[ok & (jobs_at == j)]))
        if take and quorum_at <= self._c_time[idx[-1]]:
            # Events come before check-ins at the same instant, so a check-in at the quorum's
            # instant goes to the next round. Tasks take time, so the quorum's own tasks stay.
            keep = int(np.searchsorted(self._c_time[idx], quorum_at, side="left"))
            take, end = keep, int(idx[keep])
            idx, jobs_at, dev, duration, finish, ok = (x[:keep] for x in (idx, jobs_at, dev, duration, finish, ok))
        self._pos = end
        if take:
            self._assign(idx, jobs_at, dev, duration, finish, ok)
        # The contested check-in's candidates were read before this segment's assignments:
        # hand it over only if none of them filled a request and no event (a quorum) now
        # comes before it; otherwise the next segment looks at it again.
        if (end == stop and not self._targets_dirty and self._next_event_time() > self._c_time[stop]
                and self._busy_until[self._c_device[stop]] <= self._c_time[stop]):
            self._pending = stop

    def _next_contested(self, a: int, b: int) -> int:
        """The first check-in in [a, b) whose device is free and could go to at least
        ``stop_choices`` jobs (per the current targets), or -1."""
        key = (self._targets_version, self._chunk_index, self._stop_choices)
        if self._contested_key != key:
            # Once per target change: a scan per step would cost more than the step itself.
            counts = self._target_count[self._c_class[a:self._chunk_len]]
            self._contested = (np.flatnonzero(counts >= self._stop_choices) + a).tolist()
            self._contested_key = key
        contested = self._contested
        i = bisect.bisect_left(contested, a)
        busy_until, time, device = self._busy_until, self._c_time, self._c_device
        while i < len(contested) and contested[i] < b:
            k = contested[i]
            if busy_until[device[k]] <= time[k]:
                return k
            i += 1
        return -1

    def _task_outcomes(self, idx: np.ndarray, jobs_at: np.ndarray):
        """Device, task time, finish time and success of check-ins ``idx`` serving ``jobs_at``."""
        dev = self._c_device[idx]
        work = self._workload[jobs_at] * self._compute[dev] + self._transfer[jobs_at] / self._bandwidth[dev]
        duration = work * self._c_noise[idx]
        finish = self._c_time[idx] + duration
        return dev, duration, finish, finish <= self._c_end[idx]

    def _quorum_time(self, j: int, new_finish: np.ndarray) -> float:
        """Time the Q-th result of job j's round arrives, given extra results."""
        need = self._quorum[j]
        if self._success_count[j] + len(new_finish) < need:
            return math.inf
        current = self._close_candidate[j]
        if current < math.inf and not (new_finish < current).any():
            return current
        parts = [new_finish] if self._quorum_times[j] is None else [self._quorum_times[j], new_finish]
        if self._quorum_times[j] is None:
            parts += self._success_parts[j]
        merged = np.concatenate(parts)
        return float(np.partition(merged, need - 1)[need - 1])

    def _assign(self, idx, jobs_at, dev, duration, finish, ok) -> None:
        if self.record_assignments:
            self._assignment_parts.append(
                {"time_s": self._c_time[idx], "device": dev, "job": jobs_at, "attempt": self._attempt[jobs_at],
                 "window_end_s": self._c_end[idx], "finish_s": finish, "success": ok}
            )
        self._busy_until[dev] = self._c_end[idx]
        self._record_response(self._device_tier[dev[ok]], duration[ok])
        times, ends = self._c_time[idx], self._c_end[idx]
        if jobs_at[0] == jobs_at[-1] and (jobs_at == jobs_at[0]).all():  # the common case: one job
            jobs, starts, stops = jobs_at[:1], np.array([0]), np.array([len(idx)])
            successes = np.array([np.count_nonzero(ok)])
        else:
            by_job = np.argsort(jobs_at, kind="stable")
            sorted_jobs = jobs_at[by_job]
            new_job = np.empty(len(sorted_jobs), dtype=bool)
            new_job[0] = True
            np.not_equal(sorted_jobs[1:], sorted_jobs[:-1], out=new_job[1:])
            starts = np.flatnonzero(new_job)
            stops = np.empty_like(starts)
            stops[:-1] = starts[1:]
            stops[-1] = len(sorted_jobs)
            jobs = sorted_jobs[starts]
            successes = np.add.reduceat(ok[by_job], starts)
            times, finish, ok, ends = times[by_job], finish[by_job], ok[by_job], ends[by_job]
        n = stops - starts
        quorum_in = ~self._is_async[jobs] & (self._assigned[jobs] < self._quorum[jobs]) & (
            self._assigned[jobs] + n >= self._quorum[jobs])
        if quorum_in.any():  # the quorum-th device of a round was dispatched in this batch
            self._quorum_dispatch[jobs[quorum_in]] = times[
                starts[quorum_in] + self._quorum[jobs[quorum_in]] - self._assigned[jobs[quorum_in]] - 1]
        self._tasks[jobs] += n
        self._dropped[jobs] += n - successes
        self._assigned[jobs] += n
        self._open[jobs] -= n
        self._last_assign[jobs] = times[stops - 1]
        self._success_count[jobs] += successes
        filled = self._open[jobs] == 0
        if filled.any():
            self._targets_dirty = True
        for j, lo, hi, got, full in zip(jobs.tolist(), starts.tolist(), stops.tolist(), successes.tolist(),
                                        filled.tolist()):
            if self._is_async[j]:
                for t_done, good in zip(np.where(ok[lo:hi], finish[lo:hi], ends[lo:hi]).tolist(), ok[lo:hi].tolist()):
                    heapq.heappush(self._async_ends[j], (t_done, good))
                    self._push(t_done, _TASK_END, j, int(self._attempt[j]))
                continue
            if got:
                self._add_results(j, finish[lo:hi][ok[lo:hi]])
            if full:
                self._dispatch_time[j] = self._last_assign[j]
                if not self._deadline_at_request:
                    self._push(self._dispatch_time[j] + self.static.job_deadline_s[j], _DEADLINE, j,
                               int(self._attempt[j]))

    def _assign_one(self, k: int, j: int) -> None:
        """:meth:`_assign` for one check-in, in scalars (the device env's hot path; same arithmetic)."""
        if self.record_assignments or self._is_async[j]:
            idx, jobs_at = np.array([k]), np.array([j])
            self._assign(idx, jobs_at, *self._task_outcomes(idx, jobs_at))
            return
        dev = int(self._c_device[k])
        time, end = float(self._c_time[k]), float(self._c_end[k])
        work = self._workload[j] * self._compute[dev] + self._transfer[j] / self._bandwidth[dev]
        duration = float(work * self._c_noise[k])
        finish = time + duration
        ok = finish <= end
        self._busy_until[dev] = end
        if ok:
            self._record_one_response(int(self._device_tier[dev]), duration)
        self._tasks[j] += 1
        self._assigned[j] += 1
        if self._assigned[j] == self._quorum[j]:
            self._quorum_dispatch[j] = time
        self._last_assign[j] = time
        if ok:
            self._success_count[j] += 1
            self._add_results(j, np.array([finish]))
        else:
            self._dropped[j] += 1
        self._open[j] -= 1
        if self._open[j] == 0:
            self._targets_dirty = True
            self._dispatch_time[j] = time
            if not self._deadline_at_request:
                self._push(time + self.static.job_deadline_s[j], _DEADLINE, j, int(self._attempt[j]))

    def _record_one_response(self, tier: int, duration: float) -> None:
        start = self._response_next if self._response_next < _RESPONSE_SAMPLE else 0
        self._response_time[start] = duration
        self._response_tier[start] = tier
        self._response_next = start + 1

    def _record_response(self, tiers: np.ndarray, duration: np.ndarray) -> None:
        """Keep the most recent task times (with their device tier) for the tiers' percentiles."""
        n = min(len(duration), _RESPONSE_SAMPLE)
        start = self._response_next if self._response_next + n <= _RESPONSE_SAMPLE else 0
        self._response_time[start:start + n] = duration[len(duration) - n:]
        self._response_tier[start:start + n] = tiers[len(tiers) - n:]
        self._response_next = start + n

    def _add_results(self, j: int, good: np.ndarray) -> None:
        """Job j's round got the successful results ``good`` (already counted); track its quorum time."""
        need = self._quorum[j]
        if self._quorum_times[j] is None:
            self._success_parts[j].append(good)
            if self._success_count[j] < need:
                return
            merged = np.concatenate(self._success_parts[j])
            self._success_parts[j] = []
        else:
            if not (good < self._close_candidate[j]).any():
                return
            merged = np.concatenate([self._quorum_times[j], good])
        smallest = np.partition(merged, need - 1)[:need]
        self._quorum_times[j] = smallest
        tau = float(smallest.max())
        if tau < self._close_candidate[j]:
            self._close_candidate[j] = tau
            self._push(tau, _CLOSE, j, int(self._attempt[j]))

    # ------------------------------------------------------------------ events
    def advance(self, stop_at_choices: int | None = None) -> list[SchedulingEvent]:
        """Run until the next scheduling event(s); return them ([] once done).

        With ``stop_at_choices=k`` it also stops before the first check-in whose
        device could go to k or more jobs (all equally scored): it then returns []
        with :attr:`pending_checkin` set, and :meth:`decide` must settle that
        check-in before the next call. Check-ins with fewer choices are matched
        by the scores as usual.
        """
        if self._pending >= 0:
            raise IllegalActionError("a check-in is pending: call decide(job) first")
        if stop_at_choices is not None and stop_at_choices < 1:
            raise IllegalActionError(f"stop_at_choices must be >= 1, got {stop_at_choices}")
        self._stop_choices = stop_at_choices
        while not self.done:
            self._match_until(math.inf)
            if self._pending >= 0:
                return []
            if not self._heap:
                raise SimulationStuck("no pending event and no job can progress")
            time = self._heap[0][0]
            self.now = time
            events: list[SchedulingEvent] = []
            while self._heap and self._heap[0][0] == time:
                _, kind, _, j, tag = heapq.heappop(self._heap)
                events.extend(self._handle(kind, j, tag, time))
            if self._ended.all():
                self.done = True
            if events:
                return events
        return []

    def _handle(self, kind: int, j: int, tag: int, time: float) -> list[SchedulingEvent]:
        if kind == _ARRIVAL:
            self._active[j] = True
            return [SchedulingEvent(time, "arrival", j), *self._request(j, time)]
        if kind == _HORIZON:
            self.done = True
            return [SchedulingEvent(time, "horizon")]
        if not self._active[j] or tag != self._attempt[j]:
            return []  # stale: that round has already ended
        if kind == _CLOSE and time == self._close_candidate[j]:
            return self._end_round(j, time, success=True)
        if kind == _DEADLINE:
            return self._end_round(j, time, success=False)
        if kind == _TASK_END:
            return self._async_task_end(j, time)
        return []

    def _request(self, j: int, time: float) -> list[SchedulingEvent]:
        self._round_request[j] = time
        self._open[j] = self.static.job_participants[j]
        self._assigned[j] = 0
        self._dispatch_time[j] = np.nan
        self._quorum_dispatch[j] = np.nan
        self._last_assign[j] = time
        self._close_candidate[j] = math.inf
        self._success_parts[j] = []
        self._success_count[j] = 0
        self._quorum_times[j] = None
        self._targets_dirty = True
        if self._deadline_at_request and not self._is_async[j]:
            self._push(time + self.static.job_deadline_s[j], _DEADLINE, j, int(self._attempt[j]))
        return [SchedulingEvent(time, "request", j)]

    def _end_round(self, j: int, time: float, success: bool) -> list[SchedulingEvent]:
        request = self._round_request[j]
        # A round whose quorum formed before its last device was found ends its
        # scheduling phase at its last assignment.
        dispatch = self._dispatch_time[j] if not np.isnan(self._dispatch_time[j]) else self._last_assign[j]
        dispatch = min(max(dispatch, request), time)
        self._last_sched[j] = dispatch - request
        self._last_response[j] = time - dispatch
        self._sched_total[j] += dispatch - request
        self._response_total[j] += time - dispatch
        # Queuing delay (the authors' measure): request to the dispatch of the quorum-th device,
        # or to the round's end if fewer were dispatched.
        quorum_dispatch = self._quorum_dispatch[j] if not np.isnan(self._quorum_dispatch[j]) else time
        self._queuing_total[j] += quorum_dispatch - request
        if self.keep_rounds:
            self._rounds.append(
                RoundRecord(j, int(self._rounds_done[j]), int(self._attempt[j]), request, dispatch, time, success,
                            int(self._assigned[j]), int(self._success_count[j]), quorum_dispatch)
            )
        self._attempt[j] += 1
        self._open[j] = 0
        self._targets_dirty = True
        if success:
            self._rounds_done[j] += 1
            self._attained[j] += self._quorum[j]
            self._stragglers[j] += self._success_count[j] - self._quorum[j]
        else:
            self._failed_rounds[j] += 1
            self._wasted[j] += self._assigned[j]
        events = [SchedulingEvent(time, "round_end", j, success)]
        if self._rounds_done[j] >= self.static.job_rounds[j]:
            return events + self._end_job(j, time)
        return events + self._request(j, time)

    def _end_job(self, j: int, time: float) -> list[SchedulingEvent]:
        self._active[j] = False
        self._ended[j] = True
        self._end_time[j] = time
        return [SchedulingEvent(time, "job_end", j)]

    def _async_task_end(self, j: int, time: float) -> list[SchedulingEvent]:
        ends = self._async_ends[j]
        events: list[SchedulingEvent] = []
        while ends and ends[0][0] <= time:
            _, good = heapq.heappop(ends)
            self._open[j] += 1
            self._targets_dirty = True
            if good:
                self._async_buffer[j] += 1
                self._attained[j] += 1
            if self._async_buffer[j] >= self._buffer[j] and self._active[j]:
                self._async_buffer[j] = 0
                self._rounds_done[j] += 1
                events.append(SchedulingEvent(time, "round_end", j, True))
                if self._rounds_done[j] >= self.static.job_rounds[j]:
                    self._open[j] = 0
                    self._stragglers[j] += sum(1 for _, g in ends if g)
                    return events + self._end_job(j, time)
        return events

    # ------------------------------------------------------- device-level control
    @property
    def pending_checkin(self) -> PendingCheckin | None:
        if self._pending < 0:
            return None
        k = self._pending
        cls = int(self._c_class[k])
        return PendingCheckin(
            time_s=float(self._c_time[k]),
            device=int(self._c_device[k]),
            device_class=cls,
            window_end_s=float(self._c_end[k]),
            candidates=self._target_table[cls, : self._target_count[cls]].copy(),
            tie_draw=float(self._c_tie[k]),
        )

    def decide(self, job: int) -> None:
        """Settle the pending check-in: give its device to ``job``, or leave it idle with -1."""
        k = self._pending
        if k < 0:
            raise IllegalActionError("no check-in is pending")
        if job != -1:
            if not 0 <= job < self.static.n_jobs:
                raise IllegalActionError(f"job {job} is out of range [0, {self.static.n_jobs}) (or -1 for idle)")
            cls = self._c_class[k]
            if not self._active[job] or self._open[job] <= 0:
                raise IllegalActionError(f"job {job} has no open demand at t={self._c_time[k]:.1f}s")
            if not self._job_eligible[cls, job]:
                raise IllegalActionError(
                    f"device {int(self._c_device[k])} is not eligible for job {job} "
                    f"(requirement {self.static.requirement_labels[self._job_req[job]]})"
                )
            self._assign_one(k, job)
        self._pending = -1
        self._pos = k + 1

    # ------------------------------------------------------------- observing
    def observe(self) -> SchedulerView:
        return SchedulerView(
            time_s=self.now,
            static=self.static,
            active=self._active.copy(),
            arrival_s=self._arrival,
            rounds_done=self._rounds_done.copy(),
            open_demand=self._open.copy(),
            assigned=self._assigned.copy(),
            results=self._success_count.copy(),
            round_request_s=self._round_request.copy(),
            attained=self._attained.copy(),
            failed_rounds=self._failed_rounds.copy(),
            last_scheduling_delay_s=self._last_sched.copy(),
            last_response_s=self._last_response.copy(),
            class_supply_per_s=self._supply_per_s(),
            tier_response_p95_s=self._tier_p95,
            all_response_p95_s=self._all_p95,
        )

    def assignments(self) -> dict[str, np.ndarray]:
        """Every task assignment so far (needs ``record_assignments=True``): check-in time,
        device, job, round attempt, end of the device's window, task finish, success."""
        if not self.record_assignments:
            raise VennGymError("create the Simulation with record_assignments=True to keep assignments")
        keys = ("time_s", "device", "job", "attempt", "window_end_s", "finish_s", "success")
        if not self._assignment_parts:
            return {k: np.empty(0) for k in keys}
        return {k: np.concatenate([p[k] for p in self._assignment_parts]) for k in keys}

    def elapsed_jct_s(self) -> float:
        """Sum over jobs of time spent in the system so far (ended jobs: their JCT)."""
        ended = np.nansum(self._end_time - self._arrival)
        return float(ended + np.sum(self.now - self._arrival[self._active]))

    def result(self, policy_name: str = "") -> RunResult:
        jobs = self.scenario.workload.jobs
        records = []
        for j, job in enumerate(jobs):
            finished = bool(self._ended[j])
            end = float(self._end_time[j]) if finished else self.now
            records.append(
                JobRecord(
                    job=j,
                    name=job.name,
                    requirement=self.static.requirement_labels[self._job_req[j]],
                    participants=job.participants,
                    rounds=job.rounds,
                    arrival_s=job.arrival_s,
                    end_s=end,
                    jct_s=end - job.arrival_s if (finished or job.arrival_s <= self.now) else 0.0,
                    finished=finished,
                    rounds_done=int(self._rounds_done[j]),
                    failed_rounds=int(self._failed_rounds[j]),
                    scheduling_delay_s=float(self._sched_total[j]),
                    response_time_s=float(self._response_total[j]),
                    queuing_delay_s=float(self._queuing_total[j]),
                    tasks=int(self._tasks[j]),
                    dropped_tasks=int(self._dropped[j]),
                    wasted_tasks=int(self._wasted[j]),
                    straggler_results=int(self._stragglers[j]),
                )
            )
        return RunResult(
            scenario=self.scenario.name,
            seed=self.scenario.seed,
            policy=policy_name,
            jobs=tuple(records),
            rounds=tuple(self._rounds),
            end_time_s=self.now,
            checkins=self.checkins_seen,
        )
