"""A simulation's per-job state, as arrays over jobs (index ``j``): what the workload fixes, each
job's current round, and what each job has done over the run.

The compiled matcher updates many of these arrays in place (the simulation hands them to it in
tuples), so every array is created once and only ever written into, never replaced.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .compiled import compiled
from .jobs import ASYNC, JobSpec


def transfer_mbit(model_size_mb):
    """Megabits a task moves: the model down and its update up (2 x MB x 8 bit)."""
    return 16.0 * model_size_mb


def task_seconds(workload_s, transfer_mbit, compute_factor, bandwidth_mbps):
    """A task's time before its check-in's noise: computation scaled by the device, plus transfer at
    its bandwidth. Scalars or numpy arrays; the one formula of the matcher (through
    :data:`task_seconds_compiled`), the speed tiers, the scenario's and the stall watch's deadline
    checks and the lower bound."""
    return workload_s * compute_factor + transfer_mbit / bandwidth_mbps


# The same function compiled, for the matcher's loops. Only ever called on scalars: numba's first
# use of an array signature costs about 0.35 s of start-up, numpy does arrays as fast.
task_seconds_compiled = compiled(task_seconds)


class JobParams:
    """What the workload fixes for the whole run, beyond what a policy sees in
    :class:`~venn_gym.view.StaticInfo` (participants, rounds, deadlines)."""

    def __init__(self, jobs: Sequence[JobSpec]) -> None:
        self.arrival_s = np.array([j.arrival_s for j in jobs], dtype=float)
        # What a task takes on a device: task_seconds(workload_s, transfer_mbit, ...).
        self.workload_s = np.array([j.workload_s for j in jobs], dtype=float)
        self.transfer_mbit = np.array([transfer_mbit(j.model_size_mb) for j in jobs], dtype=float)
        self.quorum = np.array([j.quorum_count for j in jobs], dtype=np.int64)  # results a sync round needs
        self.is_async = np.array([j.mode == ASYNC for j in jobs])
        self.buffer_size = np.array([j.buffer_size for j in jobs], dtype=np.int64)  # async: results per round


class RoundState:
    """Each job's current round (for an async job, its current buffer of results); a round starts
    and ends in :mod:`venn_gym.event_loop` (``request_round``, ``end_round``)."""

    def __init__(self, quorum: np.ndarray) -> None:
        n_jobs = len(quorum)
        self.open = np.zeros(n_jobs, dtype=np.int64)  # devices the round still asks for
        self.assigned = np.zeros(n_jobs, dtype=np.int64)  # devices dispatched to it
        self.results = np.zeros(n_jobs, dtype=np.int64)  # its successful tasks, stragglers included
        # Attempts so far (failed ones included): an event is tagged with its attempt and stale after it.
        self.attempt = np.zeros(n_jobs, dtype=np.int64)
        self.request_s = np.zeros(n_jobs)
        self.dispatch_s = np.full(n_jobs, np.nan)  # its last device's dispatch (NaN while demand is open)
        self.quorum_dispatch_s = np.full(n_jobs, np.nan)  # its quorum-th device's dispatch (NaN before)
        self.last_assign_s = np.zeros(n_jobs)  # its latest dispatch, or its request before any
        self.close_s = np.full(n_jobs, np.inf)  # when its quorum completes by the results so far
        # A round held back by the scheduler before any dispatch is requested again at this time (NaN: not held).
        self.held_until_s = np.full(n_jobs, np.nan)
        # The quorum's smallest finishes so far, a max-heap per job: job j's are
        # kept_vals[kept_off[j] : kept_off[j] + kept_size[j]].
        self.kept_off = np.concatenate([[0], np.cumsum(quorum)[:-1]]).astype(np.int64)
        self.kept_vals = np.empty(int(quorum.sum()))
        self.kept_size = np.zeros(n_jobs, dtype=np.int64)
        # Async: the running tasks' (end, success), a heap per job, and good results not yet applied.
        self.async_ends: list[list[tuple[float, bool]]] = [[] for _ in range(n_jobs)]
        self.async_buffer = np.zeros(n_jobs, dtype=np.int64)


class JobTotals:
    """Each job's life and what it has done over the run: what the run's result reports."""

    def __init__(self, n_jobs: int) -> None:
        self.active = np.zeros(n_jobs, dtype=bool)  # arrived and not ended
        self.ended = np.zeros(n_jobs, dtype=bool)
        self.end_s = np.full(n_jobs, np.nan)
        self.rounds_done = np.zeros(n_jobs, dtype=np.int64)  # successful rounds
        self.failed_rounds = np.zeros(n_jobs, dtype=np.int64)
        self.attained = np.zeros(n_jobs, dtype=np.int64)  # results that counted: its attained service
        self.tasks = np.zeros(n_jobs, dtype=np.int64)  # tasks dispatched
        self.dropped = np.zeros(n_jobs, dtype=np.int64)  # tasks whose device left before they finished
        self.wasted = np.zeros(n_jobs, dtype=np.int64)  # tasks dispatched to rounds that failed
        self.stragglers = np.zeros(n_jobs, dtype=np.int64)  # results beyond their round's quorum
        # Sums over round attempts: request to last dispatch, last dispatch to end, request to the
        # quorum-th dispatch (the round's end if fewer were dispatched); and the latest attempt's first two.
        self.scheduling_s = np.zeros(n_jobs)
        self.response_s = np.zeros(n_jobs)
        self.queuing_s = np.zeros(n_jobs)
        self.last_scheduling_s = np.zeros(n_jobs)
        self.last_response_s = np.zeros(n_jobs)
        self.held_s = np.zeros(n_jobs)  # time its rounds were held back before their request
