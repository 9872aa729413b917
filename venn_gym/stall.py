"""Stall detection: a run that can make no more progress stops early, with an error that names each
stuck job and why, instead of simulating up to the scenario's max_sim_days."""

from __future__ import annotations

import math

import numpy as np

from .errors import VennGymError
from .estimates import SupplyEstimate
from .job_state import JobParams, JobTotals, task_seconds
from .limits import LIMITS, limit_text
from .scenario import Scenario
from .view import StaticInfo


class SimulationStuck(VennGymError, RuntimeError):
    """No job can make progress (for example no eligible device ever checks in, or every task is
    longer than the check-in windows); the message names each stuck job and why."""


class StallWatch:
    """Tells a stall from slow going. Progress (a round succeeded, a job arrived or ended) is marked
    with its time and each job's counters then, so that a stall can be explained per job.

    ``device_class``, ``compute``, ``bandwidth``: per device.
    """

    def __init__(
        self,
        scenario: Scenario,
        static: StaticInfo,
        params: JobParams,
        totals: JobTotals,
        supply: SupplyEstimate,
        device_class: np.ndarray,
        compute: np.ndarray,
        bandwidth: np.ndarray,
    ) -> None:
        self._scenario = scenario
        self._static = static
        self._params = params
        self._totals = totals
        self._supply = supply
        self._device_class = device_class
        self._compute = compute
        self._bandwidth = bandwidth
        self._chunk = (np.empty(0, dtype=np.int64), np.empty(0), np.empty(0))
        n_jobs = static.n_jobs
        # A horizon bounds a run already, and there a long stall is a result (Random on request-timed
        # rounds can go a month without a successful round), not an error.
        horizon = scenario.horizon_s
        bounded = horizon is not None and horizon <= scenario.max_sim_days * 86_400.0
        self._stall_s = math.inf if bounded else float(LIMITS["stall_days"]) * 86_400.0
        # Scheduling instants since the last look: counted cheaply, looked at in batches of the limit.
        # [instants counted, the limit], also counted by the compiled loop (event_loop.run_with_kernel).
        self._instants_start_s = 0.0
        self.instants = np.array([0, LIMITS["instants_per_job_per_simulated_s"] * n_jobs], dtype=np.int64)
        # Progress (a round succeeded, a job arrived or ended): its latest time (clock[0]) and, per job,
        # its time and counters then. Marked by the compiled event handlers (event_loop.mark_progress).
        self.clock = np.zeros(1)
        self._mark_time = np.zeros(n_jobs)
        self._mark_tasks = np.zeros(n_jobs, dtype=np.int64)
        self._mark_dropped = np.zeros(n_jobs, dtype=np.int64)
        self._mark_failed = np.zeros(n_jobs, dtype=np.int64)
        self.marks = (self.clock, self._mark_time, self._mark_tasks, self._mark_dropped, self._mark_failed)

    def chunk_loaded(self, device: np.ndarray, start_s: np.ndarray, end_s: np.ndarray) -> None:
        """The trace's current chunk, by its check-ins' devices and windows (a reason may cite them)."""
        self._chunk = (device, start_s, end_s)

    def instant(self, time: float) -> None:
        """A scheduling instant passed with jobs still to end."""
        self.instants[0] += 1
        if self.instants[0] >= self.instants[1]:
            self.check_time_advances(time)

    def chunk_ends(self, time: float) -> None:
        """Simulated time reached ``time``, the end of a chunk of the trace: stop a run without
        progress for too long, or past the scenario's max_sim_days (time cannot pass a chunk without
        loading the next, so both are caught here)."""
        active = self._totals.active
        progress_s = float(self.clock[0])
        if time - progress_s > self._stall_s and active.any():
            raise SimulationStuck(
                f"{self._scenario.name}: no progress for {(time - progress_s) / 86_400:.0f} simulated days "
                f"(t = day {time / 86_400:.0f}): no round succeeded and no job arrived or ended (limit: "
                f"{limit_text('stall_days')}); " + self._job_reasons()
            )
        max_days = self._scenario.max_sim_days
        if time > max_days * 86_400.0:
            raise SimulationStuck(
                f"simulated {max_days} days without the jobs finishing; "
                f"jobs still running: {np.flatnonzero(active).tolist()}"
            )

    def check_time_advances(self, time: float) -> None:
        """Stop a run whose simulated time stands still (a failing round requested again and again
        at one instant), early and with the reason."""
        if time - self._instants_start_s < 1.0 and self._totals.active.any():
            raise SimulationStuck(
                f"{self._scenario.name}: simulated time has stopped advancing: {int(self.instants[0]):,} scheduling "
                f"instants within one simulated second at t = {time:,.3f} s (limit: "
                f"{limit_text('instants_per_job_per_simulated_s')} per job); " + self._job_reasons()
            )
        self._instants_start_s, self.instants[0] = time, 0

    def _job_reasons(self) -> str:
        jobs = self._scenario.workload.jobs
        return "; ".join(
            f"job {j}{f' ({n})' if (n := jobs[j].name) else ''}: {self._stuck_reason(j)}"
            for j in np.flatnonzero(self._totals.active)
        )

    def _stuck_reason(self, j: int) -> str:
        totals, params, static = self._totals, self._params, self._static
        tasks = int(totals.tasks[j] - self._mark_tasks[j])
        dropped = int(totals.dropped[j] - self._mark_dropped[j])
        failed = int(totals.failed_rounds[j] - self._mark_failed[j])
        since = f"since t = {self._mark_time[j]:,.0f} s"
        eligible_classes = np.flatnonzero(static.job_eligible[:, j])
        eligible = np.isin(self._device_class, eligible_classes)
        times = task_seconds(
            params.workload_s[j], params.transfer_mbit[j], self._compute[eligible], self._bandwidth[eligible]
        )
        fastest = float(np.min(times))
        deadline = float(static.job_deadline_s[j])
        if not params.is_async[j] and deadline < fastest:
            return (
                f"its deadline_s {deadline:g} is shorter than its fastest possible task ({fastest:,.1f} s on its "
                f"fastest eligible device, before noise): {failed:,} rounds failed {since}"
            )
        if tasks == 0:
            supply = float(self._supply.per_s()[eligible_classes].sum()) * 3600
            if supply == 0:
                return (
                    f"no device that satisfies its requirement "
                    f"{static.requirement_labels[static.job_requirement[j]]} "
                    f"has checked in for {self._supply.chunks} chunks of the trace; no task {since}"
                )
            return (
                f"it was given no device {since}, although {supply:,.0f} eligible check-ins an hour arrive: "
                f"the policy gives them to other jobs"
            )
        if dropped == tasks:
            device, start_s, end_s = self._chunk
            window_s = (end_s - start_s)[eligible[device]]
            longest = f"{window_s.max():,.0f} s" if len(window_s) else "none"
            return (
                f"all {tasks:,} tasks it was given {since} outlasted their device's check-in window: its task "
                f"needs at least {fastest:,.0f} s (fastest eligible device, before noise); the longest eligible "
                f"window in the trace's current chunk: {longest}"
            )
        return (
            f"{failed:,} rounds failed {since} ({tasks:,} tasks, {dropped:,} outlasted their window): its rounds "
            f"cannot gather {int(params.quorum[j])} results within deadline_s {deadline:g}"
        )
