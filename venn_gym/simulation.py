"""The discrete-event simulator of a shared, ephemeral device pool.

Time is continuous (seconds). The event heap (:mod:`venn_gym.event_heap`) holds
only job events (arrival, round close, round deadline, async task end); device
check-ins are never put on it. Between two scheduling events the allocation (a
score per device class and job) does not change, so the check-ins of that
interval are matched in bulk
by the compiled matcher (:mod:`venn_gym.matching`): each check-in goes to the
highest-scoring eligible job with open demand, ties broken uniformly at random,
and a segment of check-ins stops at the first one that fills a request or
completes a quorum.

Exogenous randomness (check-ins, the noise on task times, the tie-breaking
draws) comes from streams keyed by (scenario seed, chunk), so every policy
sees the same devices, jobs and task times.

The steps between two scheduling instants (matching, and the job events of an instant) are
compiled in :mod:`venn_gym.event_loop`; with a compiled policy the whole run is
(:meth:`Simulation.run_kernel`). The per-job state lives in :mod:`venn_gym.job_state`, the supply
and task-time estimates in :mod:`venn_gym.estimates`, stall detection in :mod:`venn_gym.stall`.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import event_loop, matching, requirements
from .errors import IllegalActionError, VennGymError
from .estimates import ResponseP95, SupplyEstimate
from .event_heap import ARRIVAL, HORIZON, RELEASE, TASK_END, EventHeap, EventKind, grown
from .event_loop import HOLDS_MADE, TARGETS_DIRTY
from .job_state import JobParams, JobTotals, RoundState, task_seconds
from .jobs import DEADLINE_FROM_REQUEST
from .metrics import JobRecord, RoundRecord, RunResult
from .scenario import Scenario
from .seeds import MATCH_STREAM, stream
from .stall import SimulationStuck, StallWatch
from .view import SchedulerView, StaticInfo


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
    to pick among candidates (:func:`venn_gym.matching.pick_target`: uniformly,
    ``candidates[int(tie_draw * len(candidates))]``, or by the allocation's shares)."""

    time_s: float
    device: int
    device_class: int
    window_end_s: float
    candidates: np.ndarray
    tie_draw: float


def checkin_draws(scenario: Scenario, index: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The task-noise factor and the tie draw of each of the ``n`` check-ins of trace chunk
    ``index``: the chunk's own match stream, noise first (so that they are the same under any policy)."""
    rng = stream(scenario.seed, MATCH_STREAM, index)
    sd = scenario.task_noise_log_sd
    noise = rng.lognormal(0.0, sd, n) if sd > 0 else np.ones(n)
    return noise, rng.random(n)


class Eligibility(NamedTuple):
    """Which devices may serve which job: requirements numbered in order of first appearance."""

    job_requirement: np.ndarray  # per job, its requirement's index
    labels: tuple[str, ...]  # per requirement
    device_eligible: np.ndarray  # [device, requirement]
    patterns: np.ndarray  # [pattern, requirement]: the distinct rows of device_eligible, sorted
    device_pattern: np.ndarray  # per device, its row of patterns


def eligibility(scenario: Scenario) -> Eligibility:
    """The scenario's requirements evaluated on its devices, and the devices' eligibility patterns
    (devices alike for every requirement): the basis of the simulator's device classes."""
    pop, jobs = scenario.population, scenario.workload.jobs
    keys: dict[str, int] = {}
    job_requirement = np.array([keys.setdefault(requirements.key(j.requirement), len(keys)) for j in jobs])
    specs = {requirements.key(j.requirement): j.requirement for j in jobs}
    device_eligible = np.stack([requirements.evaluate(specs[k], pop.attributes, len(pop)) for k in keys], axis=1)
    patterns, device_pattern = _distinct_rows(device_eligible)
    labels = tuple(requirements.label(specs[k]) for k in keys)
    return Eligibility(job_requirement, labels, device_eligible, patterns, device_pattern)


def _distinct_rows(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(flags, axis=0, return_inverse=True)`` for a boolean matrix: rows read as binary
    numbers (first column highest) sort as the rows do, and a sort of integers is ten times faster
    than one of rows (a tenth of a second over 100,000 devices)."""
    if flags.shape[1] > 62:
        patterns, inverse = np.unique(flags, axis=0, return_inverse=True)
        return patterns, inverse.reshape(-1)
    weights = np.left_shift(1, np.arange(flags.shape[1] - 1, -1, -1, dtype=np.int64))
    codes, inverse = np.unique(flags.astype(np.int64) @ weights, return_inverse=True)
    return (codes[:, None] & weights).astype(bool), inverse


NO_SHARES = np.empty((0, 0))  # the matcher's "ties are broken uniformly"


class Simulation:
    """One run of a scenario. Drive it with :meth:`advance` and :meth:`set_scores`,
    or let :func:`run_policy` do so."""

    def __init__(self, scenario: Scenario, keep_rounds: bool = True, record_assignments: bool = False) -> None:
        self.scenario = scenario
        self.keep_rounds = keep_rounds
        self.record_assignments = record_assignments
        pop = scenario.population
        jobs = scenario.workload.jobs
        n_jobs = len(jobs)

        # Device classes: eligibility pattern x speed tier.
        elig = eligibility(scenario)
        patterns = elig.patterns
        tiers = scenario.speed_tiers
        # Tier 0 is the fastest: rank devices by the time of a typical task.
        typical_time = task_seconds(30.0, 80.0, pop.compute_factor, pop.bandwidth_mbps)
        rank = np.argsort(np.argsort(typical_time, kind="stable"), kind="stable")
        self._device_tier = (rank * tiers // len(pop)).astype(np.int64)
        self._device_class = elig.device_pattern.astype(np.int64) * tiers + self._device_tier
        n_classes = len(patterns) * tiers
        class_eligible = np.repeat(patterns, tiers, axis=0)
        self.static = StaticInfo(
            n_jobs=n_jobs,
            requirement_labels=elig.labels,
            class_eligible=class_eligible,
            class_tier=np.tile(np.arange(tiers), len(patterns)),
            speed_tiers=tiers,
            job_requirement=elig.job_requirement,
            job_participants=np.array([j.participants for j in jobs], dtype=np.int64),
            job_rounds=np.array([j.rounds for j in jobs], dtype=np.int64),
            job_deadline_s=np.array([j.deadline_s for j in jobs], dtype=float),
        )
        self._job_eligible = self.static.job_eligible  # [class, job]
        self._class_share = np.bincount(self._device_class, minlength=n_classes) / len(pop)
        self._compute = np.asarray(pop.compute_factor, dtype=float)
        self._bandwidth = np.asarray(pop.bandwidth_mbps, dtype=float)
        self._params = JobParams(jobs)
        self._deadline_at_request = scenario.round_deadline_from == DEADLINE_FROM_REQUEST
        self._reset_state()

    # ------------------------------------------------------------------ state
    def _reset_state(self) -> None:
        n_jobs, n_classes = self.static.n_jobs, self.static.n_classes
        self.now = 0.0
        self.done = False
        self._started = False  # advance() or run_kernel() ran
        self._heap = EventHeap()
        self._flags = event_loop.flags_array(self._deadline_at_request, self.keep_rounds)
        for j, job in enumerate(self.scenario.workload.jobs):
            self._push(job.arrival_s, ARRIVAL, j, 0)
        if self.scenario.horizon_s is not None:
            self._push(self.scenario.horizon_s, HORIZON, -1, 0)
        params = self._params
        self._round = RoundState(params.quorum)
        self._totals = JobTotals(n_jobs)
        self._supply = SupplyEstimate(self._class_share, self.scenario.trace)
        self._response = ResponseP95(self.static.speed_tiers)
        self._stall = StallWatch(
            self.scenario,
            self.static,
            params,
            self._totals,
            self._supply,
            self._device_class,
            self._compute,
            self._bandwidth,
        )
        self._round_log = event_loop.round_log(64)
        self._scheduling_out = event_loop.event_out(64)
        self._assignment_parts: list[dict[str, np.ndarray]] = []
        self._busy_until = np.full(len(self.scenario.population), -np.inf)
        # device_once_per_round: the last round attempt each device served of each job (-1: none)
        once = self.scenario.device_once_per_round
        self._served = np.full((n_jobs, len(self.scenario.population)) if once else (0, 0), -1, dtype=np.int64)
        self._scores = np.full((n_classes, n_jobs), -np.inf)
        self._match_scores = self._scores  # the scores with held rounds' jobs at -inf: what matching uses
        self._shares = NO_SHARES
        self._target_table = np.zeros((n_classes, n_jobs), dtype=np.int64)  # row c: class c's targets
        self._target_count = np.zeros(n_classes, dtype=np.int64)  # ... the first count[c] of them
        self._chunk_index = -1
        self._pos = 0
        self._pending = -1
        self._stop_choices: int | None = None
        self._chunk_len = 0
        # The matcher's view of the state: tuples of the state's arrays, which it updates in place,
        # in the order it unpacks them (see matching.assign).
        r, t = self._round, self._totals
        self._m_devices = (self._busy_until, self._compute, self._bandwidth, self._device_tier, self._served)
        self._m_jobs = (
            r.open,
            r.assigned,
            t.tasks,
            t.dropped,
            r.results,
            r.last_assign_s,
            r.quorum_dispatch_s,
            r.dispatch_s,
            params.quorum,
            params.is_async,
            self.static.job_deadline_s,
            r.attempt,
            params.workload_s,
            params.transfer_mbit,
        )
        self._m_kept = (r.close_s, r.kept_vals, r.kept_off, r.kept_size)
        # The event loop's view of the state (see event_loop's docstring), in the order it unpacks it.
        self._e_rounds = (
            r.open,
            r.assigned,
            r.results,
            r.attempt,
            r.request_s,
            r.dispatch_s,
            r.quorum_dispatch_s,
            r.last_assign_s,
            r.close_s,
            r.held_until_s,
            r.kept_size,
            self.static.job_participants,
        )
        self._e_totals = (
            t.active,
            t.ended,
            t.end_s,
            t.rounds_done,
            t.failed_rounds,
            t.attained,
            t.wasted,
            t.stragglers,
            t.scheduling_s,
            t.response_s,
            t.queuing_s,
            t.last_scheduling_s,
            t.last_response_s,
            t.tasks,
            t.dropped,
        )
        self._e_info = (params.quorum, params.is_async, self.static.job_deadline_s, self.static.job_rounds)
        # A compiled policy's view (event_loop.KERNEL_VIEW): the state's arrays, and buffers for the
        # time and the estimates (refreshed once a trace chunk).
        self._k_view = (
            np.zeros(1),
            t.active,
            params.arrival_s,
            t.rounds_done,
            r.open,
            r.assigned,
            r.results,
            r.request_s,
            r.held_until_s,
            t.attained,
            t.failed_rounds,
            t.last_scheduling_s,
            t.last_response_s,
            np.zeros(n_classes),
            np.zeros(self.static.speed_tiers),
            np.zeros(1),
        )
        self._m_events = matching.event_buffer(n_jobs)
        self._m_records = matching.record_buffer()
        self._device_first = np.full(len(self.scenario.population), -1, dtype=np.int64)
        self._job_seen = np.zeros(n_jobs, dtype=np.int64)
        self._m_scratch = matching.scratch_buffers(n_jobs)
        self.checkins_seen = 0
        self._load_chunk(0)

    def _push(self, time: float, kind: EventKind, job: int, tag: int) -> None:
        self._heap.push(time, kind, job, tag)

    # -------------------------------------------------------------- check-ins
    def _load_chunk(self, index: int) -> None:
        if self._chunk_index >= 0:
            self._supply.add_chunk(self._c_class)
            self._response.refresh()
        trace = self.scenario.trace
        chunk = trace.chunk(index, self.scenario.seed)
        n = len(chunk)
        if n and chunk.device.max() >= len(self._busy_until):
            raise VennGymError(
                f"trace chunk {index} names device {int(chunk.device.max())}, "
                f"beyond the population of {len(self._busy_until)}"
            )
        self._c_time = chunk.time
        self._c_device = chunk.device
        self._c_end = chunk.end
        self._c_class = self._device_class[chunk.device]
        self._c_noise, self._c_tie = checkin_draws(self.scenario, index, n)
        self._m_ck = (self._c_time, self._c_device, self._c_end, self._c_class, self._c_noise, self._c_tie)
        self._stall.chunk_loaded(self._c_device, self._c_time, self._c_end)
        self._chunk_index = index
        self._chunk_end_time = (index + 1) * trace.chunk_s
        self._pos = 0
        self._chunk_len = n
        self.checkins_seen += n
        view = self._k_view
        view[13][:], view[14][:], view[15][0] = self._supply.per_s(), self._response.per_tier, self._response.overall

    # ------------------------------------------------------------ allocation
    def set_scores(self, scores: np.ndarray, shares: np.ndarray | None = None) -> None:
        """Set the allocation until the next scheduling event.

        ``scores`` has shape ``(n_classes, n_jobs)`` or ``(n_jobs,)`` (the same
        for every class). A device goes to the highest-scoring job that it is
        eligible for and that has open demand; ``-inf`` means never; equal
        scores are broken uniformly at random per device, or, with ``shares``
        (finite, >= 0, of either shape), in proportion to the tied jobs' shares
        in the device's class (all zero: uniformly). Equal scores with shares
        split a device class between jobs, and between groups, in proportions.
        """
        scores = np.array(scores, dtype=float)  # a copy: the caller may change its array
        shape = (self.static.n_classes, self.static.n_jobs)
        if scores.shape == (self.static.n_jobs,):
            scores = scores.reshape(1, -1)
        elif scores.shape != shape:
            raise IllegalActionError(f"scores must have shape {shape} or ({shape[1]},), got {scores.shape}")
        if not (scores < np.inf).all():
            raise IllegalActionError("scores must not be NaN or +inf")
        if shares is None:
            self._shares = NO_SHARES
        else:
            shares = np.array(shares, dtype=float)
            if shares.shape == (self.static.n_jobs,):
                shares = shares.reshape(1, -1)
            elif shares.shape != shape:
                raise IllegalActionError(f"shares must have shape {shape} or ({shape[1]},), got {shares.shape}")
            if not (np.isfinite(shares).all() and (shares >= 0).all()):
                raise IllegalActionError("shares must be finite and >= 0")
            self._shares = shares
        self._scores = scores
        self._flags[TARGETS_DIRTY] = 1

    def _refresh_targets(self) -> None:
        self._match_scores = self._scores
        if self._flags[HOLDS_MADE]:
            held = ~np.isnan(self._round.held_until_s)
            if held.any():
                self._match_scores = np.array(np.broadcast_to(self._scores, (len(self._scores), self.static.n_jobs)))
                self._match_scores[:, held] = -np.inf
        matching.target_table(
            self._match_scores, self._job_eligible, self._round.open, self._target_table, self._target_count
        )
        self._flags[TARGETS_DIRTY] = 0

    def holdable(self) -> np.ndarray:
        """Per job, whether :meth:`hold_rounds` would hold its round now: in the system, synchronous,
        no device dispatched to its round, not held already."""
        r = self._round
        return self._totals.active & ~self._params.is_async & (r.assigned == 0) & np.isnan(r.held_until_s)

    def hold_rounds(self, hold_s: np.ndarray) -> np.ndarray:
        """Hold back, for ``hold_s[j]`` seconds from now, the round of every job j with
        ``hold_s[j] > 0`` that is :meth:`holdable` (others are left as they are; a finite
        ``hold_s >= 0`` per job is required). Returns the jobs held."""
        hold_s = np.asarray(hold_s, dtype=float)
        if hold_s.shape != (self.static.n_jobs,):
            raise IllegalActionError(f"hold_s must have shape ({self.static.n_jobs},), got {hold_s.shape}")
        if not (np.isfinite(hold_s).all() and (hold_s >= 0).all()):
            raise IllegalActionError("hold_s must be finite seconds >= 0 per job")
        jobs = np.flatnonzero((hold_s > 0) & self.holdable())
        for j in jobs.tolist():
            self.hold_round(j, self.now + float(hold_s[j]))
        return jobs

    def hold_round(self, job: int, until_s: float) -> None:
        """Hold back job ``job``'s current round: it is withdrawn (no device goes to it, its deadline
        no longer runs) and requested again at ``until_s``, a scheduling event of kind ``request``.

        Only a synchronous round that no device has been dispatched to yet can be held, so nothing
        is wasted; holding it again before its release moves the release. The time from the
        withdrawn request to the release counts in the job's JCT and its ``held_s``, in no round's
        delays. Raises
        :class:`IllegalActionError` for any other job or a release time not after now."""
        r = self._round
        if self._pending >= 0:
            raise IllegalActionError("a check-in is pending: call decide(job) first")
        if not 0 <= job < self.static.n_jobs:
            raise IllegalActionError(f"job {job} is out of range [0, {self.static.n_jobs})")
        if not self._totals.active[job]:
            raise IllegalActionError(f"job {job} is not in the system at t={self.now:.1f}s")
        if self._params.is_async[job]:
            raise IllegalActionError(f"job {job} is asynchronous: it has no round to hold")
        if r.assigned[job] > 0:
            raise IllegalActionError(
                f"job {job}'s round already has {int(r.assigned[job])} devices dispatched: only a round "
                "without any can be held"
            )
        if not (math.isfinite(until_s) and until_s > self.now):
            raise IllegalActionError(f"a round is held until a finite time after now ({self.now:.1f}s), got {until_s}")
        until_s = float(until_s)
        if math.isnan(r.held_until_s[job]):
            self._totals.held_s[job] -= float(r.request_s[job])  # the withdrawn request's wait counts too
        else:
            self._totals.held_s[job] -= float(r.held_until_s[job])  # the earlier release will not come
        self._totals.held_s[job] += until_s
        r.held_until_s[job] = until_s
        self._flags[HOLDS_MADE] = 1  # from now on a deadline may be stale by a hold
        self._flags[TARGETS_DIRTY] = 1
        self._push(until_s, RELEASE, job, int(r.attempt[job]))

    # --------------------------------------------------------------- matching
    def _match_until_event(self) -> None:
        """Match check-ins up to the next job event (or a pending check-in)."""
        buffer_size = len(self._m_events[0])
        while self._pending < 0:
            if self._flags[TARGETS_DIRTY]:
                self._refresh_targets()
            self._heap.make_room(buffer_size)
            why, self._pos, self._pending, n_events, n_records = event_loop.match_to_event(
                self._pos,
                self._chunk_len,
                self._chunk_end_time,
                self._stop_choices or 0,
                self.record_assignments,
                self._heap.arrays,
                self._matcher(),
                self._match_scores,
                self._job_eligible,
                self._shares,
                self._flags,
            )
            if why == event_loop.REPLAY_ASYNC:
                self._keep_async_ends(n_events)
            if n_records:
                idx, jobs = self._m_records[0][:n_records].copy(), self._m_records[1][:n_records].copy()
                self._record_assignments(
                    idx, jobs, self._m_records[2][:n_records].copy(), self._m_records[3][:n_records].copy()
                )
            if why == event_loop.NEED_CHUNK:
                self._stall.chunk_ends(self._chunk_end_time)
                self._load_chunk(self._chunk_index + 1)
            elif why == matching.REACHED_END:
                return  # (TARGETS_CHANGED: match_to_event marked the targets dirty)

    def _keep_async_ends(self, n: int) -> None:
        """Keep, per job, the ends of the async tasks among the ``n`` events the matcher wrote (the
        heap has them already)."""
        times, kinds, jobs, good = (self._m_events[i][:n].tolist() for i in (0, 1, 2, 4))
        async_ends = self._round.async_ends
        for time, kind, j, ok in zip(times, kinds, jobs, good):
            if kind == TASK_END:
                heapq.heappush(async_ends[j], (time, ok))

    def _record_assignments(self, idx: np.ndarray, jobs: np.ndarray, finish: np.ndarray, ok: np.ndarray) -> None:
        self._assignment_parts.append(
            {
                "time_s": self._c_time[idx],
                "device": self._c_device[idx],
                "job": jobs,
                "attempt": self._round.attempt[jobs],
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
            self._response.sample,
            not self._deadline_at_request,
            self._m_events,
            0,
        )
        if self.record_assignments:
            self._record_assignments(idx, jobs, finish, ok)
        self._heap.make_room(n_events)
        if event_loop.push_written(self._heap.arrays, self._m_events, n_events):
            self._keep_async_ends(n_events)
        if filled:
            self._flags[TARGETS_DIRTY] = 1

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
        self._started = True
        while not self.done:
            self._match_until_event()
            if self._pending >= 0:
                return []
            if not len(self._heap):
                raise SimulationStuck("no pending event and no job can progress")
            time = self._heap.top_time()
            self.now = time
            events = self._handle_instant(time)
            if self._flags[event_loop.DONE] or self._totals.ended.all():
                self.done = True
            else:
                self._stall.instant(time)
            if events:
                return events
        return []

    @property
    def runs_kernels(self) -> bool:
        """Whether :meth:`run_kernel` can run this simulation (not with async jobs, whose task ends
        are handled in Python; not once started)."""
        return not self._params.is_async.any() and not self._started

    def run_kernel(self, kernel: event_loop.PolicyKernel, on_progress: Callable[[], None] | None = None) -> None:
        """Run to the end with a compiled policy (:meth:`venn_gym.policy.Policy.kernel`): the run that
        asking the policy at every scheduling event gives, without returning to Python for each.
        ``on_progress`` is called once a trace chunk."""
        if not self.runs_kernels:
            raise VennGymError("run_kernel runs a fresh simulation without async jobs (see runs_kernels)")
        self._started = True
        scores = kernel.scores
        self._scores = self._match_scores = scores
        self._shares = NO_SHARES
        self._flags[TARGETS_DIRTY] = 1
        buffer_size = len(self._m_events[0])
        if kernel.on_chunk is not None:
            kernel.on_chunk(self._k_view[13])
        while not self.done:
            self._heap.make_room(buffer_size)
            why, self._pos, n_records = event_loop.run_with_kernel(
                kernel.state,
                scores,
                self._pos,
                self._chunk_len,
                self._chunk_end_time,
                self.record_assignments,
                self._heap.arrays,
                self._matcher(),
                self._job_eligible,
                self._e_rounds,
                self._e_totals,
                self._e_info,
                self._stall.marks,
                self._stall.instants,
                self._round_log,
                self._flags,
                self._scheduling_out,
                self._k_view,
            )
            self.now = float(self._k_view[0][0])
            if n_records:
                records = self._m_records
                self._record_assignments(*(records[i][:n_records].copy() for i in range(4)))
            if why == event_loop.NEED_CHUNK:
                self._stall.chunk_ends(self._chunk_end_time)
                self._load_chunk(self._chunk_index + 1)
                if kernel.on_chunk is not None:
                    kernel.on_chunk(self._k_view[13])
                if on_progress is not None:
                    on_progress()
            elif why == event_loop.NEED_ROOM:
                self._make_instant_room()
            elif why == event_loop.STALL_CHECK:
                self._stall.check_time_advances(self.now)
            elif why == event_loop.RUN_DONE:
                self.done = True
            elif why == event_loop.NO_EVENT_LEFT:
                raise SimulationStuck("no pending event and no job can progress")

    def _matcher(self) -> tuple:
        """The matcher's state, as matching.match_checkins unpacks it (the chunk's check-ins change)."""
        return (
            self._target_table,
            self._target_count,
            self._device_first,
            self._job_seen,
            self._m_scratch,
            self._m_ck,
            self._m_devices,
            self._m_jobs,
            self._m_kept,
            self._response.sample,
            self._m_events,
            self._m_records,
        )

    def _make_instant_room(self) -> None:
        """Grow the round log and the scheduling events to what an instant may need (instant_room)."""
        log_needed, out_needed = event_loop.instant_room(
            self._heap.arrays, self._round_log, self._scheduling_out, self._flags
        )
        if len(self._round_log[0]) < log_needed:
            self._round_log = grown(self._round_log, log_needed)
        if len(self._scheduling_out[0]) < out_needed:
            self._scheduling_out = grown(self._scheduling_out, out_needed)

    def _handle_instant(self, time: float) -> list[SchedulingEvent]:
        """Handle the job events at ``time``: compiled, except async task ends."""
        while len(self._heap) and self._heap.top_time() == time:
            self._make_instant_room()
            why, j = event_loop.handle_instant(
                time,
                self._heap.arrays,
                self._e_rounds,
                self._e_totals,
                self._e_info,
                self._stall.marks,
                self._round_log,
                self._flags,
                self._scheduling_out,
            )
            if why == event_loop.ASYNC_TASK_END:
                self._async_task_end(j, time)
        out = self._scheduling_out
        n = int(out[4][0])
        out[4][0] = 0
        times, kinds, jobs, success = (out[i][:n].tolist() for i in range(4))
        names = event_loop.SCHEDULING_KINDS
        return [SchedulingEvent(t, names[k], j, ok) for t, k, j, ok in zip(times, kinds, jobs, success)]

    def _async_task_end(self, j: int, time: float) -> None:
        r, t = self._round, self._totals
        ends = r.async_ends[j]
        out = self._scheduling_out
        while ends and ends[0][0] <= time:
            _, good = heapq.heappop(ends)
            r.open[j] += 1
            self._flags[TARGETS_DIRTY] = 1
            if good:
                r.async_buffer[j] += 1
                t.attained[j] += 1
            if r.async_buffer[j] >= self._params.buffer_size[j] and t.active[j]:
                r.async_buffer[j] = 0
                event_loop.mark_progress(j, time, self._e_totals, self._stall.marks)
                t.rounds_done[j] += 1
                event_loop.scheduling_event(out, time, event_loop.ROUND_END_EVENT, j, True)
                if t.rounds_done[j] >= self.static.job_rounds[j]:
                    r.open[j] = 0
                    t.stragglers[j] += sum(1 for _, g in ends if g)
                    event_loop.end_job(j, time, self._e_totals, self._stall.marks, out)
                    return

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
            candidates=self._candidates(cls, int(self._c_device[k])),
            tie_draw=float(self._c_tie[k]),
        )

    def _candidates(self, cls: int, device: int) -> np.ndarray:
        """The jobs the simulator's own matching would choose among for this check-in."""
        if self._served.shape[0]:
            out = np.empty(self.static.n_jobs, dtype=np.int64)
            n = matching.allowed_targets(
                cls,
                device,
                self._match_scores,
                self._job_eligible,
                self._round.open,
                self._served,
                self._round.attempt,
                out,
            )
            return out[:n]
        return self._target_table[cls, : self._target_count[cls]].copy()

    def decide(self, job: int) -> None:
        """Settle the pending check-in: give its device to ``job``, or leave it idle with -1."""
        k = self._pending
        if k < 0:
            raise IllegalActionError("no check-in is pending")
        if job != -1:
            if not 0 <= job < self.static.n_jobs:
                raise IllegalActionError(f"job {job} is out of range [0, {self.static.n_jobs}) (or -1 for idle)")
            cls = self._c_class[k]
            if not self._totals.active[job] or self._round.open[job] <= 0:
                raise IllegalActionError(f"job {job} has no open demand at t={self._c_time[k]:.1f}s")
            if not math.isnan(self._round.held_until_s[job]):
                raise IllegalActionError(
                    f"job {job}'s round is held until t={self._round.held_until_s[job]:.1f}s (hold_round)"
                )
            if not self._job_eligible[cls, job]:
                raise IllegalActionError(
                    f"device {int(self._c_device[k])} is not eligible for job {job} "
                    f"(requirement {self.static.requirement_labels[self.static.job_requirement[job]]})"
                )
            if self._served.shape[0] and self._served[job, self._c_device[k]] == self._round.attempt[job]:
                raise IllegalActionError(
                    f"device {int(self._c_device[k])} already serves job {job}'s current round (device_once_per_round)"
                )
            self._assign_one(k, job)
        self._pending = -1
        self._pos = k + 1

    # ------------------------------------------------------------- observing
    def observe(self) -> SchedulerView:
        """What a scheduler sees now (arrays are copies, or read-only)."""
        r, t = self._round, self._totals
        return SchedulerView(
            time_s=self.now,
            static=self.static,
            active=t.active.copy(),
            arrival_s=self._params.arrival_s,
            rounds_done=t.rounds_done.copy(),
            open_demand=r.open.copy(),
            assigned=r.assigned.copy(),
            results=r.results.copy(),
            round_request_s=r.request_s.copy(),
            round_held_until_s=r.held_until_s.copy(),
            attained=t.attained.copy(),
            failed_rounds=t.failed_rounds.copy(),
            last_scheduling_delay_s=t.last_scheduling_s.copy(),
            last_response_s=t.last_response_s.copy(),
            class_supply_per_s=self._supply.per_s(),
            tier_response_p95_s=self._response.per_tier,
            all_response_p95_s=self._response.overall,
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

    def _round_records(self) -> tuple[RoundRecord, ...]:
        n = int(self._round_log[10][0])
        columns = (self._round_log[i][:n].tolist() for i in range(10))
        return tuple(RoundRecord(*row) for row in zip(*columns))

    @property
    def jobs_ended(self) -> int:
        return int(self._totals.ended.sum())

    def elapsed_jct_s(self) -> float:
        """Sum over jobs of time spent in the system so far (ended jobs: their JCT)."""
        t, arrival = self._totals, self._params.arrival_s
        ended = np.nansum(t.end_s - arrival)
        return float(ended + np.sum(self.now - arrival[t.active]))

    def result(self, policy_name: str = "") -> RunResult:
        """The run's result so far (unfinished jobs counted up to now)."""
        t = self._totals
        jobs = self.scenario.workload.jobs
        records = []
        for j, job in enumerate(jobs):
            finished = bool(t.ended[j])
            end = float(t.end_s[j]) if finished else self.now
            records.append(
                JobRecord(
                    job=j,
                    name=job.name,
                    requirement=self.static.requirement_labels[self.static.job_requirement[j]],
                    participants=job.participants,
                    rounds=job.rounds,
                    arrival_s=job.arrival_s,
                    end_s=end,
                    jct_s=end - job.arrival_s if (finished or job.arrival_s <= self.now) else 0.0,
                    finished=finished,
                    rounds_done=int(t.rounds_done[j]),
                    failed_rounds=int(t.failed_rounds[j]),
                    scheduling_delay_s=float(t.scheduling_s[j]),
                    response_time_s=float(t.response_s[j]),
                    queuing_delay_s=float(t.queuing_s[j]),
                    tasks=int(t.tasks[j]),
                    dropped_tasks=int(t.dropped[j]),
                    wasted_tasks=int(t.wasted[j]),
                    straggler_results=int(t.stragglers[j]),
                    held_s=float(t.held_s[j]),
                )
            )
        return RunResult(
            scenario=self.scenario.name,
            seed=self.scenario.seed,
            policy=policy_name,
            jobs=tuple(records),
            rounds=self._round_records(),
            end_time_s=self.now,
            checkins=self.checkins_seen,
        )
