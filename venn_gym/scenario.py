"""Scenarios: devices + check-in trace + workload + simulation settings, and the paper's.

A scenario is built from (name, seed): the seed draws the synthetic population,
the workload and every exogenous random stream, so (name, seed) fixes a run.
Registered names are versioned (``paper/even-v0``): a name never changes
meaning; a changed scenario gets a new version.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import requirements
from .devices import DevicePopulation, synthetic_population
from .errors import ScenarioWarning, SpecError
from .job_state import task_seconds, transfer_mbit
from .jobs import (
    ASYNC,
    DEADLINE_FROM_DISPATCH,
    DEADLINE_FROM_REQUEST,
    DEADLINE_ORIGINS,
    JobSpec,
    Workload,
    generate_paper_workload,
    paper_mixes,
)
from .limits import LIMITS, limit_text
from .registry import register_scenario
from .seeds import POPULATION_STREAM, WORKLOAD_STREAM, stream
from .trace import MAX_WINDOW_LOG_SD, CheckinTrace, DiurnalTrace


@dataclass(frozen=True, eq=False)
class Scenario:
    """Everything a simulation needs.

    ``speed_tiers`` splits devices into that many equal tiers by speed (for
    tier matching); ``task_noise_log_sd`` is the log-sd of the log-normal
    factor on every task's time; ``horizon_s`` stops the run early (unfinished
    jobs are then reported apart). ``round_deadline_from`` says where a
    synchronous round's ``deadline_s`` counts from (see :class:`~venn_gym.jobs.JobSpec`):
    ``"request"`` (the paper's and production FL's rule, the default) or
    ``"dispatch"`` (the last device's dispatch; the ``paper/*-v0`` scenarios).
    ``device_once_per_round``: a device serves each round of a synchronous job at most once, as
    in deployed FL; a device checking in again while a round it served is still open goes to the
    next job in its class's order (the policy's scores), or stays idle. Off by default, as in the
    authors' simulator (and so in every registered scenario): there a device may fill several
    places of one round, which matters only where a job asks for nearly all its eligible devices
    (at the paper's scales, 0.003-0.06 % of tasks).
    """

    name: str
    seed: int
    population: DevicePopulation
    trace: CheckinTrace
    workload: Workload
    speed_tiers: int = 4
    task_noise_log_sd: float = 0.5
    horizon_s: Optional[float] = None
    max_sim_days: float = 3650.0
    description: str = ""
    round_deadline_from: str = DEADLINE_FROM_REQUEST
    device_once_per_round: bool = False

    def __repr__(self) -> str:  # one line: the arrays inside would print thousands of elements
        return (
            f"Scenario(name={self.name!r}, seed={self.seed}, jobs={len(self.workload.jobs)}, "
            f"devices={len(self.population)}, speed_tiers={self.speed_tiers}, horizon_s={self.horizon_s}, "
            f"round_deadline_from={self.round_deadline_from!r}"
            + (", device_once_per_round=True)" if self.device_once_per_round else ")")
        )

    def __post_init__(self) -> None:
        if self.speed_tiers < 1:
            raise SpecError(f"speed_tiers must be >= 1, got {self.speed_tiers}", source=self.name)
        if self.speed_tiers > LIMITS["speed_tiers"]:
            raise SpecError(f"speed_tiers {self.speed_tiers:,} is above {limit_text('speed_tiers')}", source=self.name)
        chunk_s = self.trace.chunk_s
        if not chunk_s >= LIMITS["min_chunk_s"]:
            raise SpecError(f"the trace's chunk_s {chunk_s:g} is below {limit_text('min_chunk_s')}", source=self.name)
        per_chunk = self.trace.mean_rate_per_s() * chunk_s
        if not per_chunk <= LIMITS["checkins_per_chunk"]:
            raise SpecError(
                f"the trace has {per_chunk:,.0f} check-ins per chunk of {chunk_s:g} s on average, above "
                f"{limit_text('checkins_per_chunk')} (a tiny period_s, or a huge check-in rate?)",
                source=self.name,
            )
        if not 0 <= self.task_noise_log_sd <= MAX_WINDOW_LOG_SD:
            raise SpecError(
                f"task_noise_log_sd must be in [0, {MAX_WINDOW_LOG_SD}] (beyond it task times overflow to "
                f"infinity or zero), got {self.task_noise_log_sd}",
                source=self.name,
            )
        if self.round_deadline_from not in DEADLINE_ORIGINS:
            raise SpecError(
                f"round_deadline_from must be one of {', '.join(DEADLINE_ORIGINS)}, got {self.round_deadline_from!r}",
                source=self.name,
            )
        if not isinstance(self.device_once_per_round, (bool, np.bool_)):
            raise SpecError(
                f"device_once_per_round must be true or false, got {self.device_once_per_round!r}", source=self.name
            )
        cells = len(self.workload.jobs) * len(self.population)
        if self.device_once_per_round and cells > LIMITS["once_per_round_cells"]:
            raise SpecError(
                f"device_once_per_round tracks every (job, device) pair: {cells:,} here, above "
                f"{limit_text('once_per_round_cells')} (8 bytes each)",
                source=self.name,
            )
        if self.horizon_s is not None and not self.horizon_s > 0:
            raise SpecError(f"horizon_s must be > 0, got {self.horizon_s}", source=self.name)
        trace_devices = getattr(self.trace, "n_devices", len(self.population))
        if trace_devices > len(self.population):
            raise SpecError(
                f"the trace names device {trace_devices - 1} but the population has only "
                f"{len(self.population)} devices",
                source=self.name,
            )
        seen = devices_that_check_in(self.trace, len(self.population))
        for job in self.workload.jobs:
            servable = servable_devices(job.requirement, self.population, seen)
            usable = int(np.count_nonzero(servable))
            if not usable:
                raise SpecError(never_runs_text(job), source=self.name, where=f"job {job.name or job.arrival_s}")
            where = f"job {job.name or job.arrival_s}"
            if self.horizon_s is not None and job.arrival_s >= self.horizon_s:
                warnings.warn(
                    ScenarioWarning(
                        f"{self.name}: {where}: it arrives at {job.arrival_s:g} s, at or after the horizon "
                        f"({self.horizon_s:g} s): it will not run, and results list it as unfinished"
                    ),
                    stacklevel=2,
                )
            elif job.arrival_s > self.max_sim_days * 86_400.0:
                raise SpecError(
                    f"it arrives at {job.arrival_s:g} s, after max_sim_days ({self.max_sim_days:g} days): "
                    "it could never run",
                    source=self.name,
                    where=where,
                )
            with np.errstate(over="ignore"):  # an extreme workload makes it inf, which the check below handles
                times = task_seconds(
                    job.workload_s,
                    transfer_mbit(job.model_size_mb),
                    self.population.compute_factor[servable],
                    self.population.bandwidth_mbps[servable],
                )
                fastest = float(np.min(times))
            if job.mode != ASYNC and job.deadline_s < fastest:
                warnings.warn(
                    ScenarioWarning(
                        f"{self.name}: {where}: its deadline_s {job.deadline_s:g} is shorter than its fastest possible "
                        f"task ({fastest:,.1f} s on its fastest eligible device, before noise): its rounds succeed "
                        "only on rare noise draws, and a run that makes no progress stops with an error"
                    ),
                    stacklevel=2,
                )
            if job.participants > usable and self.device_once_per_round and job.mode != ASYNC:
                raise SpecError(
                    f"it asks for {job.participants} participants but only {usable} devices that check in are "
                    f"eligible ({requirements.label(job.requirement)}); with device_once_per_round no round of "
                    "it could ever fill",
                    source=self.name,
                    where=where,
                )
            if job.participants > usable:
                warnings.warn(
                    ScenarioWarning(
                        f"{self.name}: job {job.name or job.arrival_s}: asks for {job.participants} participants but "
                        f"only {usable} devices that check in are eligible ({requirements.label(job.requirement)}); "
                        "its rounds fill only if some devices serve one round more than once, which this "
                        "scenario allows (device_once_per_round: false, as in the authors' simulator) and "
                        "deployed FL does not"
                    ),
                    stacklevel=2,
                )

    def replace(self, **changes) -> "Scenario":
        return dataclasses.replace(self, **changes)


def devices_that_check_in(trace: CheckinTrace, n_devices: int) -> np.ndarray:
    """Which devices the trace ever lets check in (a synthetic trace: every device)."""
    seen = np.zeros(n_devices, dtype=bool)
    if hasattr(trace, "device") and not isinstance(trace, DiurnalTrace):
        seen[np.asarray(trace.device)] = True
    else:
        seen[:] = True
    return seen


def servable_devices(requirement, population: DevicePopulation, checking_in: np.ndarray) -> np.ndarray:
    """The devices that satisfy a requirement and check in (none: a job with it could never run)."""
    return requirements.evaluate(requirement, population.attributes, len(population)) & checking_in


def never_runs_text(job: JobSpec) -> str:
    name = repr(job.name) if job.name else f"arriving at {job.arrival_s:g} s"
    return f"no device that checks in satisfies {requirements.label(job.requirement)}: job {name} could never run"


# Full-scale defaults: ~100 k devices (FedScale saw ~136 k in a week) checking in
# ~300 k times a day, our estimate of the density of the authors' FedScale-derived table.
FULL_SCALE_DEVICES = 100_000
FULL_SCALE_CHECKINS_PER_DAY = 300_000.0


def paper_scenario(
    mix: str,
    seed: int = 0,
    scale: float = 1.0,
    n_jobs: int = 50,
    mean_gap_s: float = 1800.0,
    speed_tiers: int = 4,
    horizon_s: Optional[float] = None,
    version: int = 1,
) -> Scenario:
    """One of the paper's workloads on the calibrated synthetic device pool.

    ``version`` 1 (``paper/<mix>-v1``): round deadlines count from the request, and the run
    stops at the horizon, by default the days of device trace the authors simulate for
    that workload (unfinished jobs are reported apart). Version 0 (``paper/<mix>-v0``):
    deadlines count from the last dispatch and there is no horizon; kept unchanged because
    published results name it.
    """
    mixes = paper_mixes()
    if version not in PAPER_VERSIONS:
        raise SpecError(f"unknown paper scenario version {version}; expected one of {sorted(PAPER_VERSIONS)}")
    if mix not in mixes:
        raise SpecError(f"unknown paper workload {mix!r}; expected one of {sorted(mixes)}")
    if not 0 < scale <= 1:
        raise SpecError(f"scale must be in (0, 1], got {scale}")
    n_devices = max(100, round(FULL_SCALE_DEVICES * scale))
    rng_pop = stream(seed, POPULATION_STREAM)
    rng_jobs = stream(seed, WORKLOAD_STREAM)
    if version >= 1 and horizon_s is None:
        horizon_s = mixes[mix].trace_days * 86_400.0
    return Scenario(
        name=f"paper/{mix}-v{version}",
        seed=seed,
        population=synthetic_population(n_devices, rng_pop),
        trace=DiurnalTrace(n_devices=n_devices, checkins_per_day=FULL_SCALE_CHECKINS_PER_DAY * scale),
        workload=generate_paper_workload(mixes[mix], rng_jobs, n_jobs=n_jobs, mean_gap_s=mean_gap_s, scale=scale),
        speed_tiers=speed_tiers,
        horizon_s=horizon_s,
        round_deadline_from=PAPER_VERSIONS[version],
        description=f"the paper's {mix} workload ({n_jobs} jobs) on the synthetic diurnal pool, scale {scale}",
    )


# Round timing of each version of the paper scenarios.
PAPER_VERSIONS = {0: DEADLINE_FROM_DISPATCH, 1: DEADLINE_FROM_REQUEST}


def _register_paper() -> None:
    descriptions = {
        "even": "all 33 templates",
        "small": "the small-demand templates",
        "large": "the large-demand templates",
        "low": "low total demand",
        "high": "high total demand",
        "general": "biased: 70 % of jobs need General devices",
        "comp_heavy": "biased: 70 % of jobs need Compute-rich devices",
        "mem_heavy": "biased: 70 % of jobs need Memory-rich devices",
        "res_intensive": "biased: 70 % of jobs need High-performance devices",
    }
    timing = {
        0: "deadlines from the last dispatch, no horizon",
        1: "deadlines from the request, horizon = the authors' trace days",
    }
    for version, how in timing.items():
        for mix, text in descriptions.items():
            register_scenario(
                f"paper/{mix}-v{version}",
                lambda seed=0, _mix=mix, _v=version, **options: paper_scenario(_mix, seed=seed, version=_v, **options),
                f"Venn paper workload '{mix}' ({text}; {how}); "
                "options: scale, n_jobs, mean_gap_s, speed_tiers, horizon_s",
                source="built-in",
            )


_register_paper()
