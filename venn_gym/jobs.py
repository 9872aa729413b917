"""Collaborative-learning jobs and the paper's workloads."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np

from . import requirements
from .errors import SpecError
from .limits import LIMITS, limit_text

SYNC, ASYNC = "sync", "async"
# Where a synchronous round's deadline counts from (a scenario setting, Scenario.round_deadline_from).
DEADLINE_FROM_REQUEST, DEADLINE_FROM_DISPATCH = "request", "dispatch"
DEADLINE_ORIGINS = (DEADLINE_FROM_REQUEST, DEADLINE_FROM_DISPATCH)

# The Venn authors' simulator times a task as ``workload * computation / 78 +
# 2 * comm * 13736 / communication`` (computation in ms per sample, communication
# in kbit/s; 78 and 13,736 are the means of FedScale's capacity file), i.e. a job's
# ``comm`` is the one-way transfer time in seconds on a device of 13,736 kbit/s.
# venn_gym's importers give such a device ``bandwidth_mbps = 13.736``.
REFERENCE_BANDWIDTH_MBPS = 13.736
VENN_COMPUTE_REFERENCE = 78.0


def comm_s_to_model_size_mb(comm_s: float, reference_bandwidth_mbps: float = REFERENCE_BANDWIDTH_MBPS) -> float:
    """The ``model_size_mb`` whose transfer takes ``comm_s`` seconds each way at the reference bandwidth.

    venn_gym's transfer time is ``2 * model_size_mb * 8 / bandwidth_mbps``, so
    ``model_size_mb = comm_s * reference_bandwidth_mbps / 8`` makes it ``2 * comm_s
    * reference_bandwidth_mbps / bandwidth_mbps``: ``2 * comm_s`` on the reference
    device, and exactly the authors' ``2 * comm * 13736 / communication`` on a
    device imported from their capacity file (``bandwidth_mbps = communication /
    1000``). The authors' ``comm = 10`` is 17.17 MB.
    """
    if not (
        isinstance(comm_s, (int, float, np.integer, np.floating))
        and not isinstance(comm_s, bool)
        and math.isfinite(comm_s)
        and comm_s >= 0
    ):
        raise SpecError(f"comm_s must be a finite number of seconds >= 0, got {comm_s!r}")
    if not (reference_bandwidth_mbps > 0 and math.isfinite(reference_bandwidth_mbps)):
        raise SpecError(f"reference_bandwidth_mbps must be > 0, got {reference_bandwidth_mbps!r}")
    return float(comm_s) * float(reference_bandwidth_mbps) / 8.0


def model_size_mb_to_comm_s(model_size_mb: float, reference_bandwidth_mbps: float = REFERENCE_BANDWIDTH_MBPS) -> float:
    """Inverse of :func:`comm_s_to_model_size_mb`: one-way transfer seconds at the reference bandwidth."""
    return float(model_size_mb) * 8.0 / float(reference_bandwidth_mbps)


@dataclass(frozen=True)
class JobSpec:
    """One job as submitted to the resource manager.

    Synchronous jobs run ``rounds`` rounds; each asks for ``participants``
    devices and succeeds once ``ceil(quorum * participants)`` results are in.
    It fails if that has not happened ``deadline_s`` after the round's
    *request* (the scenario's ``round_deadline_from: request``, the default, as
    in the paper and production FL: gathering devices counts against the
    deadline, so a round that cannot find enough devices in time fails), or after
    its last device was *dispatched* (``round_deadline_from: dispatch``, the
    ``paper/*-v0`` scenarios: a round that cannot fill waits without failing).
    A failed round is aborted: its dispatched tasks are wasted, results still
    in flight are discarded, and the job requests the round again at once.
    Asynchronous (buffered) jobs keep
    ``participants`` devices busy and advance a round every ``buffer_size``
    results. A task takes ``workload_s * compute_factor + 2 * model_size_mb * 8 /
    bandwidth_mbps`` seconds on a device, times the check-in's log-normal noise.
    """

    arrival_s: float
    requirement: Any
    participants: int
    rounds: int
    deadline_s: float
    quorum: float = 0.8
    workload_s: float = 30.0
    model_size_mb: float = 5.0
    mode: str = SYNC
    buffer_size: int = 0
    name: str = ""

    def __post_init__(self) -> None:
        where = f"job {self.name!r}" if self.name else "job"
        requirements.normalize(self.requirement, where=f"{where}.requirement")
        checks = [
            ("arrival_s", self.arrival_s >= 0 and math.isfinite(self.arrival_s), "a finite number >= 0"),
            (
                "participants",
                isinstance(self.participants, (int, np.integer)) and 1 <= self.participants <= LIMITS["participants"],
                f"an integer in [1, {LIMITS['participants']:,}] ({limit_text('participants')})",
            ),
            (
                "rounds",
                isinstance(self.rounds, (int, np.integer)) and 1 <= self.rounds <= LIMITS["rounds"],
                f"an integer in [1, {LIMITS['rounds']:,}] ({limit_text('rounds')})",
            ),
            ("deadline_s", self.deadline_s > 0, "> 0"),
            ("quorum", 0 < self.quorum <= 1, "in (0, 1]"),
            ("workload_s", self.workload_s >= 0, ">= 0"),
            ("model_size_mb", self.model_size_mb >= 0, ">= 0"),
            ("mode", self.mode in (SYNC, ASYNC), f"'{SYNC}' or '{ASYNC}'"),
        ]
        if self.workload_s == 0 and self.model_size_mb == 0:
            checks.append(("workload_s", False, "> 0 when model_size_mb is 0 (a task must take time)"))
        if self.mode == ASYNC:
            checks.append(("buffer_size", self.buffer_size >= 1, "an integer >= 1 for an async job"))
        else:  # refused rather than ignored: a buffer on a sync job means its author meant mode: async
            checks.append(
                ("buffer_size", self.buffer_size == 0, "left out for a sync job (it applies to mode: async only)")
            )
        for name, ok, expected in checks:
            if not ok:
                raise SpecError(f"must be {expected}, got {getattr(self, name)!r}", where=f"{where}.{name}")

    @property
    def quorum_count(self) -> int:
        """Results a synchronous round needs."""
        return max(1, math.ceil(self.quorum * self.participants - 1e-9))


@dataclass(frozen=True)
class Workload:
    """An explicit list of jobs, in arrival order."""

    jobs: tuple[JobSpec, ...]
    name: str = "workload"

    def __post_init__(self) -> None:
        if not self.jobs:
            raise SpecError("a workload needs at least one job", source=self.name)
        object.__setattr__(self, "jobs", tuple(sorted(self.jobs, key=lambda j: j.arrival_s)))

    def __len__(self) -> int:
        return len(self.jobs)


@dataclass(frozen=True)
class JobTemplate:
    template: int
    participants: int
    rounds: int
    deadline_s: float
    workload_s: float


def _read_data_csv(name: str) -> list[dict[str, str]]:
    text = resources.files("venn_gym.data").joinpath(name).read_text()
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


def paper_templates() -> dict[int, JobTemplate]:
    """The 33 job templates of the paper's evaluation."""
    rows = _read_data_csv("paper_job_templates.csv")
    return {
        int(r["template"]): JobTemplate(
            int(r["template"]),
            int(r["participants_per_round"]),
            int(r["rounds"]),
            float(r["round_deadline_s"]),
            float(r["workload_s"]),
        )
        for r in rows
    }


@dataclass(frozen=True)
class WorkloadMix:
    name: str
    templates: tuple[int, ...]
    category_mix: tuple[float, ...] = field(default=(0.25, 0.25, 0.25, 0.25))
    trace_days: int = 0


def paper_mixes() -> dict[str, WorkloadMix]:
    """The paper's workloads: Even, Small, Large, Low, High and the four biased mixes."""
    mixes = {}
    for r in _read_data_csv("paper_workload_mixes.csv"):
        mix = tuple(float(x) for x in r["category_mix"].split()) or (0.25, 0.25, 0.25, 0.25)
        mixes[r["workload"]] = WorkloadMix(
            r["workload"], tuple(int(x) for x in r["templates"].split()), mix, int(r["trace_days"])
        )
    return mixes


def generate_paper_workload(
    mix: WorkloadMix,
    rng: np.random.Generator,
    n_jobs: int = 50,
    mean_gap_s: float = 1800.0,
    scale: float = 1.0,
    model_size_mb: float = 5.0,
) -> Workload:
    """Jobs drawn uniformly from the mix's templates, Poisson arrivals.

    ``scale`` shrinks participants, rounds and the arrival gap together (the
    device population and check-in rate shrink with it in the scenario), which
    keeps the contention and scales every JCT by about ``scale``.
    """
    if not 0 < scale <= 1:
        raise SpecError(f"scale must be in (0, 1], got {scale}", where="workload.scale")
    templates = paper_templates()
    gaps = rng.exponential(mean_gap_s * scale, n_jobs)
    gaps[0] = 0.0
    arrivals = np.cumsum(gaps)
    picks = rng.choice(np.array(mix.templates), n_jobs)
    categories = rng.choice(4, n_jobs, p=np.array(mix.category_mix) / sum(mix.category_mix)) + 1
    jobs = []
    for i, (arrival, pick, category) in enumerate(zip(arrivals, picks, categories)):
        t = templates[int(pick)]
        jobs.append(
            JobSpec(
                arrival_s=float(arrival),
                requirement=requirements.CATEGORY_NAMES[category - 1],
                participants=max(1, round(t.participants * scale)),
                rounds=max(1, round(t.rounds * scale)),
                deadline_s=t.deadline_s,
                workload_s=t.workload_s,
                model_size_mb=model_size_mb,
                name=f"job{i}-t{t.template}",
            )
        )
    return Workload(tuple(jobs), name=mix.name)
