"""Per-job and per-round results of a run, and their summaries."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RoundRecord:
    """One round attempt: requested, last device dispatched, ended (success or deadline).
    ``results`` counts the successful tasks of its devices, including those that
    arrive after the round ended (stragglers); ``quorum_dispatch_s`` is when its
    quorum-th device was dispatched (its end if fewer were)."""

    job: int
    round: int
    attempt: int
    request_s: float
    dispatch_s: float
    end_s: float
    success: bool
    assigned: int
    results: int
    quorum_dispatch_s: float


@dataclass(frozen=True)
class JobRecord:
    """One job's outcome. ``jct_s`` of an unfinished job is its time in the system
    up to the end of the run (a lower bound); ``finished`` tells them apart.

    Per-round times are summed over the job's rounds, failed attempts included:
    ``scheduling_delay_s`` (request to the last device's dispatch),
    ``response_time_s`` (that dispatch to the round's end) and
    ``queuing_delay_s`` (request to the quorum-th device's dispatch, the Venn
    authors' measure). ``wasted_tasks`` are the tasks dispatched to rounds that
    failed; ``dropped_tasks`` those whose device left before finishing. ``held_s`` is the
    time from the requests of rounds the scheduler held back to their release (see
    :meth:`~venn_gym.simulation.Simulation.hold_round`): part of the JCT, in no round's delays."""

    job: int
    name: str
    requirement: str
    participants: int
    rounds: int
    arrival_s: float
    end_s: float
    jct_s: float
    finished: bool
    rounds_done: int
    failed_rounds: int
    scheduling_delay_s: float
    response_time_s: float
    queuing_delay_s: float
    tasks: int
    dropped_tasks: int
    wasted_tasks: int
    straggler_results: int
    held_s: float = 0.0


@dataclass(frozen=True)
class RunResult:
    scenario: str
    seed: int
    policy: str
    jobs: tuple[JobRecord, ...]
    rounds: tuple[RoundRecord, ...]
    end_time_s: float
    checkins: int

    @property
    def finished(self) -> np.ndarray:
        return np.array([j.finished for j in self.jobs])

    @property
    def jct_s(self) -> np.ndarray:
        """JCTs of the finished jobs."""
        return np.array([j.jct_s for j in self.jobs if j.finished])

    def summary(self) -> dict[str, float | int]:
        """Averages over finished jobs; unfinished jobs are counted apart, never averaged in silently.
        ``mean_jct_censored_s`` averages every job that arrived, an unfinished one counted as
        ending when the run stopped (its horizon): a lower bound on the true mean."""
        jct = self.jct_s
        unfinished = [j for j in self.jobs if not j.finished]
        arrived = [j.jct_s for j in self.jobs if j.finished or j.arrival_s <= self.end_time_s]
        return {
            "mean_jct_s": float(jct.mean()) if len(jct) else float("nan"),
            "mean_jct_censored_s": float(np.mean(arrived)) if arrived else float("nan"),
            "p50_jct_s": float(np.percentile(jct, 50)) if len(jct) else float("nan"),
            "p95_jct_s": float(np.percentile(jct, 95)) if len(jct) else float("nan"),
            "makespan_s": float(max(j.end_s for j in self.jobs) - min(j.arrival_s for j in self.jobs)),
            "jobs": len(self.jobs),
            "finished_jobs": len(jct),
            "unfinished_jobs": len(unfinished),
            "unfinished_time_in_system_s": float(sum(j.jct_s for j in unfinished)),
            "mean_scheduling_delay_s": float(np.mean([j.scheduling_delay_s for j in self.jobs])),
            "mean_response_time_s": float(np.mean([j.response_time_s for j in self.jobs])),
            "mean_queuing_delay_s": float(np.mean([j.queuing_delay_s for j in self.jobs])),
            "failed_rounds": int(sum(j.failed_rounds for j in self.jobs)),
            "tasks": int(sum(j.tasks for j in self.jobs)),
            "wasted_tasks": int(sum(j.wasted_tasks for j in self.jobs)),
            "dropped_tasks": int(sum(j.dropped_tasks for j in self.jobs)),
            "straggler_results": int(sum(j.straggler_results for j in self.jobs)),
            "checkins": self.checkins,
            "simulated_days": self.end_time_s / 86_400.0,
        }

    def job_rows(self) -> list[dict[str, object]]:
        return [
            {"scenario": self.scenario, "seed": self.seed, "policy": self.policy, **dataclasses.asdict(j)}
            for j in self.jobs
        ]

    def round_rows(self) -> list[dict[str, object]]:
        return [
            {"scenario": self.scenario, "seed": self.seed, "policy": self.policy, **dataclasses.asdict(r)}
            for r in self.rounds
        ]


def censored_jct(figures: dict) -> float:
    """Mean JCT censored at the horizon from a summary (or one seed's figures): an unfinished job
    counted as ending there; the plain mean in summaries written before censoring was recorded
    (every job finished in those)."""
    return figures.get("mean_jct_censored_s", figures["mean_jct_s"])
