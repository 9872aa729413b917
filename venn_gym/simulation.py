"""The discrete-event simulator of a shared, ephemeral device pool.

Time is continuous (seconds). The event heap holds only job events (arrival,
round close, round deadline, async task end); device check-ins are never put
on it. Between two scheduling events the allocation (a score per device class
and job) does not change, so the check-ins of that interval are matched in bulk
by the compiled matcher (:mod:`venn_gym.matching`): each check-in goes to the
highest-scoring eligible job with open demand, ties broken uniformly at random,
and a segment of check-ins stops at the first one that fills a request or
completes a quorum.

Exogenous randomness (check-ins, the noise on task times, the tie-breaking
draws) comes from streams keyed by (scenario seed, chunk), so every policy
sees the same devices, jobs and task times.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from . import matching, requirements
from .errors import IllegalActionError, VennGymError
from .jobs import ASYNC, DEADLINE_FROM_REQUEST
from .limits import LIMITS, limit_text
from .matching import ARRIVAL, CLOSE, DEADLINE, HORIZON, RESPONSE_SAMPLE, TASK_END
from .metrics import JobRecord, RoundRecord, RunResult
from .scenario import Scenario
from .view import SchedulerView, StaticInfo

_SUPPLY_WINDOW_CHUNKS = 24  # chunks of the trace (1 h by default) in the supply estimate


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
    """No job can make progress (for example no eligible device ever checks in, or every task is
    longer than the check-in windows); the message names each stuck job and why."""


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
        eligible = np.stack([requirements.evaluate(req_specs[k], pop.attributes, len(pop)) for k in req_keys], axis=1)
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
        # Each job's round keeps its quorum's smallest finishes in a slice of one array.
        self._kept_off = np.concatenate([[0], np.cumsum(self._quorum)[:-1]]).astype(np.int64)
        self._kept_vals = np.empty(int(self._quorum.sum()))
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
            self._push(job.arrival_s, ARRIVAL, j, 0)
        if self.scenario.horizon_s is not None:
            self._push(self.scenario.horizon_s, HORIZON, -1, 0)
        self._active = np.zeros(n_jobs, dtype=bool)
        self._ended = np.zeros(n_jobs, dtype=bool)
        self._end_time = np.full(n_jobs, np.nan)
        self._open = np.zeros(n_jobs, dtype=np.int64)
        self._assigned = np.zeros(n_jobs, dtype=np.int64)
        self._attempt = np.zeros(n_jobs, dtype=np.int64)
        self._rounds_done = np.zeros(n_jobs, dtype=np.int64)
        # Progress (a round succeeded, a job arrived or ended): when, and each job's counters
        # then, so that a stall can be told apart from slow going and explained per job.
        self._progress_s = 0.0
        # A horizon bounds a run already, and there a long stall is a result (Random on request-timed
        # rounds can go a month without a successful round), not an error.
        horizon = self.scenario.horizon_s
        bounded = horizon is not None and horizon <= self.scenario.max_sim_days * 86_400.0
        self._stall_s = math.inf if bounded else float(LIMITS["stall_days"]) * 86_400.0
        self._instants_start_s, self._instants = 0.0, 0
        self._instants_limit = LIMITS["instants_per_job_per_simulated_s"] * len(self.scenario.workload.jobs)
        self._mark_time = np.zeros(n_jobs)
        self._mark_tasks = np.zeros(n_jobs, dtype=np.int64)
        self._mark_dropped = np.zeros(n_jobs, dtype=np.int64)
        self._mark_failed = np.zeros(n_jobs, dtype=np.int64)
        self._round_request = np.zeros(n_jobs)
        self._dispatch_time = np.full(n_jobs, np.nan)
        self._quorum_dispatch = np.full(n_jobs, np.nan)
        self._last_assign = np.zeros(n_jobs)
        self._close_candidate = np.full(n_jobs, np.inf)
        self._success_count = np.zeros(n_jobs, dtype=np.int64)
        self._kept_size = np.zeros(n_jobs, dtype=np.int64)
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
        self._chunk_len = 0
        self._supply_counts: deque[np.ndarray] = deque(maxlen=_SUPPLY_WINDOW_CHUNKS)
        self._supply_cache: np.ndarray | None = None
        self._response_time = np.zeros(RESPONSE_SAMPLE)
        self._response_tier = np.full(RESPONSE_SAMPLE, -1, dtype=np.int64)
        self._response_next = np.zeros(1, dtype=np.int64)
        # The matcher's view of the state: tuples of the arrays above, updated in place.
        self._m_devices = (self._busy_until, self._compute, self._bandwidth, self._device_tier)
        self._m_jobs = (
            self._open,
            self._assigned,
            self._tasks,
            self._dropped,
            self._success_count,
            self._last_assign,
            self._quorum_dispatch,
            self._dispatch_time,
            self._quorum,
            self._is_async,
            self.static.job_deadline_s,
            self._attempt,
            self._workload,
            self._transfer,
        )
        self._m_kept = (self._close_candidate, self._kept_vals, self._kept_off, self._kept_size)
        self._m_response = (self._response_time, self._response_tier, self._response_next)
        self._m_events = matching.event_buffer(n_jobs)
        self._m_records = matching.record_buffer()
        self._device_first = np.full(len(self.scenario.population), -1, dtype=np.int64)
        self._job_seen = np.zeros(n_jobs, dtype=np.int64)
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
        self._m_ck = (self._c_time, self._c_device, self._c_end, self._c_class, self._c_noise, self._c_tie)
        self._chunk_index = index
        self._chunk_end_time = (index + 1) * trace.chunk_s
        self._pos = 0
        self._chunk_len = n
        self.checkins_seen += n

    def _update_response_p95(self) -> None:
        # Refreshed once a chunk (an hour by default): percentiles per event would dominate run time.
        seen = self._response_tier >= 0
        times, tiers = self._response_time[seen], self._response_tier[seen]
        self._tier_p95 = np.array(
            [
                np.percentile(times[tiers == u], 95) if (tiers == u).any() else np.nan
                for u in range(self.static.speed_tiers)
            ]
        )
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
        scores = np.array(scores, dtype=float)  # a copy: the caller may change its array
        shape = (self.static.n_classes, self.static.n_jobs)
        if scores.shape == (self.static.n_jobs,):
            scores = scores.reshape(1, -1)
        elif scores.shape != shape:
            raise IllegalActionError(f"scores must have shape {shape} or ({shape[1]},), got {scores.shape}")
        if not (scores < np.inf).all():
            raise IllegalActionError("scores must not be NaN or +inf")
        self._scores = scores
        self._targets_dirty = True

    def _refresh_targets(self) -> None:
        self._target_table, self._target_count = matching.target_table(self._scores, self._job_eligible, self._open)
        self._targets_dirty = False

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
                if self._chunk_end_time - self._progress_s > self._stall_s and self._active.any():
                    raise SimulationStuck(self._stall_report(self._chunk_end_time))
                if self._chunk_end_time > self.scenario.max_sim_days * 86_400.0:
                    raise SimulationStuck(
                        f"simulated {self.scenario.max_sim_days} days without the jobs finishing; "
                        f"jobs still running: {np.flatnonzero(self._active).tolist()}"
                    )
                self._load_chunk(self._chunk_index + 1)
                continue
            if self._targets_dirty:
                self._refresh_targets()
            why, self._pos, self._pending, n_events, n_records = matching.match_checkins(
                self._pos,
                self._chunk_len,
                t_end,
                self._stop_choices or 0,
                not self._deadline_at_request,
                self.record_assignments,
                self._target_table,
                self._target_count,
                self._device_first,
                self._job_seen,
                self._m_ck,
                self._m_devices,
                self._m_jobs,
                self._m_kept,
                self._m_response,
                self._m_events,
                self._m_records,
            )
            self._replay_events(n_events)
            if n_records:
                idx, jobs = self._m_records[0][:n_records].copy(), self._m_records[1][:n_records].copy()
                self._record_assignments(
                    idx, jobs, self._m_records[2][:n_records].copy(), self._m_records[3][:n_records].copy()
                )
            if why == matching.TARGETS_CHANGED:
                self._targets_dirty = True
            elif why == matching.REACHED_END:
                return

    def _replay_events(self, n: int) -> None:
        """Push the events the matcher wrote, in its order (the heap breaks ties by order)."""
        if n == 0:
            return
        times, kinds, jobs, tags, good = (x[:n].tolist() for x in self._m_events)
        for time, kind, j, tag, ok in zip(times, kinds, jobs, tags, good):
            if kind == TASK_END:
                heapq.heappush(self._async_ends[j], (time, ok))
            self._push(time, kind, j, tag)

    def _record_assignments(self, idx: np.ndarray, jobs: np.ndarray, finish: np.ndarray, ok: np.ndarray) -> None:
        self._assignment_parts.append(
            {
                "time_s": self._c_time[idx],
                "device": self._c_device[idx],
                "job": jobs,
                "attempt": self._attempt[jobs],
                "window_end_s": self._c_end[idx],
                "finish_s": finish,
                "success": ok,
            }
        )

    def _assign_one(self, k: int, j: int) -> None:
        """Give check-in k's device to job j (a device-level decision)."""
        idx, jobs = np.array([k], dtype=np.int64), np.array([j], dtype=np.int64)
        n_events, filled, finish, ok = matching.assign_checkins(
            idx,
            jobs,
            1,
            self._m_ck,
            self._m_devices,
            self._m_jobs,
            self._m_kept,
            self._m_response,
            not self._deadline_at_request,
            self._m_events,
            0,
        )
        if self.record_assignments:
            self._record_assignments(idx, jobs, finish, ok)
        self._replay_events(n_events)
        if filled:
            self._targets_dirty = True

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
            else:
                self._instants += 1
                if self._instants >= self._instants_limit:  # counted cheaply; looked at in batches
                    self._check_time_advances(time)
            if events:
                return events
        return []

    def _handle(self, kind: int, j: int, tag: int, time: float) -> list[SchedulingEvent]:
        if kind == ARRIVAL:
            self._active[j] = True
            self._mark_progress(j, time)
            return [SchedulingEvent(time, "arrival", j), *self._request(j, time)]
        if kind == HORIZON:
            self.done = True
            return [SchedulingEvent(time, "horizon")]
        if not self._active[j] or tag != self._attempt[j]:
            return []  # stale: that round has already ended
        if kind == CLOSE and time == self._close_candidate[j]:
            return self._end_round(j, time, success=True)
        if kind == DEADLINE:
            return self._end_round(j, time, success=False)
        if kind == TASK_END:
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
        self._success_count[j] = 0
        self._kept_size[j] = 0
        self._targets_dirty = True
        if self._deadline_at_request and not self._is_async[j]:
            self._push(time + self.static.job_deadline_s[j], DEADLINE, j, int(self._attempt[j]))
        return [SchedulingEvent(time, "request", j)]

    def _end_round(self, j: int, time: float, success: bool) -> list[SchedulingEvent]:
        # Python floats: numpy scalar arithmetic would cost more than the rest of this method.
        request = float(self._round_request[j])
        # A round whose quorum formed before its last device was found ends its
        # scheduling phase at its last assignment.
        dispatch = float(self._dispatch_time[j])
        if math.isnan(dispatch):
            dispatch = float(self._last_assign[j])
        dispatch = min(max(dispatch, request), time)
        self._last_sched[j] = dispatch - request
        self._last_response[j] = time - dispatch
        self._sched_total[j] += dispatch - request
        self._response_total[j] += time - dispatch
        # Queuing delay (the authors' measure): request to the dispatch of the quorum-th device,
        # or to the round's end if fewer were dispatched.
        quorum_dispatch = float(self._quorum_dispatch[j])
        if math.isnan(quorum_dispatch):
            quorum_dispatch = time
        self._queuing_total[j] += quorum_dispatch - request
        if self.keep_rounds:
            self._rounds.append(
                RoundRecord(
                    j,
                    int(self._rounds_done[j]),
                    int(self._attempt[j]),
                    request,
                    dispatch,
                    time,
                    success,
                    int(self._assigned[j]),
                    int(self._success_count[j]),
                    quorum_dispatch,
                )
            )
        self._attempt[j] += 1
        self._open[j] = 0
        self._targets_dirty = True
        if success:
            self._mark_progress(j, time)
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
        self._progress_s = time
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
                self._mark_progress(j, time)
                self._rounds_done[j] += 1
                events.append(SchedulingEvent(time, "round_end", j, True))
                if self._rounds_done[j] >= self.static.job_rounds[j]:
                    self._open[j] = 0
                    self._stragglers[j] += sum(1 for _, g in ends if g)
                    return events + self._end_job(j, time)
        return events

    # ------------------------------------------------------------- progress
    def _mark_progress(self, j: int, time: float) -> None:
        self._progress_s = time
        self._mark_time[j] = time
        self._mark_tasks[j] = self._tasks[j]
        self._mark_dropped[j] = self._dropped[j]
        self._mark_failed[j] = self._failed_rounds[j]

    def _check_time_advances(self, time: float) -> None:
        """Stop a run whose simulated time stands still (a failing round requested again and again
        at one instant), early and with the reason. A stall in time is caught as chunks load."""
        if time - self._instants_start_s < 1.0 and self._active.any():
            raise SimulationStuck(
                f"{self.scenario.name}: simulated time has stopped advancing: {self._instants:,} scheduling "
                f"instants within one simulated second at t = {time:,.3f} s (limit: "
                f"{limit_text('instants_per_job_per_simulated_s')} per job); " + self._job_reasons(time)
            )
        self._instants_start_s, self._instants = time, 0

    def _stall_report(self, time: float) -> str:
        return (
            f"{self.scenario.name}: no progress for {(time - self._progress_s) / 86_400:.0f} simulated days "
            f"(t = day {time / 86_400:.0f}): no round succeeded and no job arrived or ended (limit: "
            f"{limit_text('stall_days')}); " + self._job_reasons(time)
        )

    def _job_reasons(self, time: float) -> str:
        return "; ".join(
            f"job {j}{f' ({n})' if (n := self.scenario.workload.jobs[j].name) else ''}: {self._stuck_reason(j, time)}"
            for j in np.flatnonzero(self._active)
        )

    def _stuck_reason(self, j: int, time: float) -> str:
        tasks = int(self._tasks[j] - self._mark_tasks[j])
        dropped = int(self._dropped[j] - self._mark_dropped[j])
        failed = int(self._failed_rounds[j] - self._mark_failed[j])
        since = f"since t = {self._mark_time[j]:,.0f} s"
        eligible_classes = np.flatnonzero(self._job_eligible[:, j])
        eligible = np.isin(self._device_class, eligible_classes)
        fastest = float(
            np.min(self._workload[j] * self._compute[eligible] + self._transfer[j] / self._bandwidth[eligible])
        )
        deadline = float(self.static.job_deadline_s[j])
        if not self._is_async[j] and deadline < fastest:
            return (
                f"its deadline_s {deadline:g} is shorter than its fastest possible task ({fastest:,.1f} s on its "
                f"fastest eligible device, before noise): {failed:,} rounds failed {since}"
            )
        if tasks == 0:
            supply = float(self._supply_per_s()[eligible_classes].sum()) * 3600
            if supply == 0:
                return (
                    f"no device that satisfies its requirement {self.static.requirement_labels[self._job_req[j]]} "
                    f"has checked in for {len(self._supply_counts)} chunks of the trace; no task {since}"
                )
            return (
                f"it was given no device {since}, although {supply:,.0f} eligible check-ins an hour arrive: "
                f"the policy gives them to other jobs"
            )
        if dropped == tasks:
            in_chunk = self._c_end[: self._chunk_len] - self._c_time[: self._chunk_len]
            in_chunk = in_chunk[eligible[self._c_device[: self._chunk_len]]]
            longest = f"{in_chunk.max():,.0f} s" if len(in_chunk) else "none"
            return (
                f"all {tasks:,} tasks it was given {since} outlasted their device's check-in window: its task "
                f"needs at least {fastest:,.0f} s (fastest eligible device, before noise); the longest eligible "
                f"window in the trace's current chunk: {longest}"
            )
        return (
            f"{failed:,} rounds failed {since} ({tasks:,} tasks, {dropped:,} outlasted their window): its rounds "
            f"cannot gather {int(self._quorum[j])} results within deadline_s {deadline:g}"
        )

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

    @property
    def jobs_ended(self) -> int:
        return int(self._ended.sum())

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
