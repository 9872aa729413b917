"""Job slots: the fixed-size index that observations and actions use for jobs.

With ``max_jobs >= n_jobs`` a job's slot is its index. Otherwise a job takes the
lowest free slot when it arrives and frees it when it ends.
"""

from __future__ import annotations

import numpy as np

from venn_gym.errors import VennGymError


class TooManyJobsError(VennGymError, RuntimeError):
    """More jobs are in the system at once than the environment has slots (``max_jobs``)."""


class JobSlots:
    def __init__(self, max_jobs: int, n_jobs: int):
        self.max_jobs = max_jobs
        self.n_jobs = n_jobs
        self.identity = max_jobs >= n_jobs
        self.job_of_slot = np.full(max_jobs, -1, dtype=np.int64)
        self.slot_of_job = np.full(n_jobs, -1, dtype=np.int64)
        if self.identity:
            self.job_of_slot[:n_jobs] = np.arange(n_jobs)
            self.slot_of_job[:] = np.arange(n_jobs)
        self._occupied = None

    def update(self, events) -> None:
        """Follow arrivals and job ends (in event order)."""
        if self.identity:
            return
        self._occupied = None
        for ev in events:
            if ev.kind == "arrival":
                free = np.flatnonzero(self.job_of_slot < 0)
                if len(free) == 0:
                    raise TooManyJobsError(
                        f"job {ev.job} arrives at t={ev.time_s:.0f}s while all max_jobs={self.max_jobs} slots are "
                        f"taken (the scenario has {self.n_jobs} jobs); create the environment with a larger max_jobs"
                    )
                self.job_of_slot[free[0]] = ev.job
                self.slot_of_job[ev.job] = free[0]
            elif ev.kind == "job_end":
                slot = self.slot_of_job[ev.job]
                if slot >= 0:
                    self.job_of_slot[slot] = -1
                    self.slot_of_job[ev.job] = -1

    def occupied(self) -> tuple[np.ndarray, np.ndarray]:
        """(slots, jobs) of the slots that hold a job."""
        if self._occupied is None:
            slots = np.flatnonzero(self.job_of_slot >= 0)
            self._occupied = (slots, self.job_of_slot[slots])
        return self._occupied
