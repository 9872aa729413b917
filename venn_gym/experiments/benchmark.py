"""Speed and memory of the simulator, and the time of one Venn scheduling decision."""

from __future__ import annotations

import logging
import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from importlib.metadata import version

import numpy as np

from ..outputs import machine_description
from ..view import SchedulerView, StaticInfo
from .compare import RunSpec, execute

log = logging.getLogger(__name__)


def _measured_run(spec: RunSpec) -> dict:
    run = execute(spec)
    return {
        "wall_s": run.wall_s,
        "checkins": run.result.checkins,
        "tasks": run.result.summary()["tasks"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "simulated_days": run.result.end_time_s / 86_400,
    }


def run_benchmark(scenario: str, options: dict, policies: list[str], seed: int) -> list[str]:
    """One run per policy, each in a fresh process (so peak memory is that run's); then Venn's decision
    time. Returns the report's lines; each measurement is logged as it completes."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    # Speed and peak memory depend on these versions too.
    lines = [
        f"Machine: {machine_description()}, numpy {version('numpy')}, numba {version('numba')} "
        f"(load average before: {load}). "
        f"Scenario {scenario} {options or ''}, seed {seed}.",
        "",
        "| policy | wall (s) | check-ins | check-ins/s | tasks | simulated days | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for policy in policies:
        spec = RunSpec(scenario, seed, policy, tuple(sorted(options.items())))
        with ProcessPoolExecutor(max_workers=1) as pool:
            m = pool.submit(_measured_run, spec).result()
        line = (
            f"| {policy} | {m['wall_s']:.1f} | {m['checkins']:,} | {m['checkins'] / m['wall_s']:,.0f} | "
            f"{m['tasks']:,} | {m['simulated_days']:.1f} | {m['peak_rss_mb']:.0f} |"
        )
        lines.append(line)
        log.info("%s: %.1f s, %.0f MB", policy, m["wall_s"], m["peak_rss_mb"])
    decision_us, matrix_us = venn_decision_time_us()
    tail = [
        "",
        f"One Venn scheduling decision with 1,000 jobs in 100 groups and 256 device classes "
        f"(`VennPolicy.decide`: demands, job order, each class's group, a tier pick): {decision_us:.0f} µs "
        f"(median of 200 calls); expanding it into the dense (class x job) score matrix that "
        f"`Simulation.set_scores` takes (`VennDecision.scores`): {matrix_us:.0f} µs more.",
    ]
    return lines + tail


def synthetic_view(
    n_jobs: int = 1000, n_groups: int = 100, n_patterns: int = 64, tiers: int = 4, seed: int = 0
) -> SchedulerView:
    """A busy scheduler state: every job active with open demand, groups with random eligible sets."""
    rng = np.random.default_rng(seed)
    patterns = rng.random((n_patterns, n_groups)) < 0.3
    patterns[:, 0] = True  # one group everyone can serve, like General
    class_eligible = np.repeat(patterns, tiers, axis=0)
    n_classes = n_patterns * tiers
    static = StaticInfo(
        n_jobs=n_jobs,
        requirement_labels=tuple(f"group{g}" for g in range(n_groups)),
        class_eligible=class_eligible,
        class_tier=np.tile(np.arange(tiers), n_patterns),
        speed_tiers=tiers,
        job_requirement=rng.integers(0, n_groups, n_jobs),
        job_participants=rng.integers(20, 1500, n_jobs),
        job_rounds=rng.integers(500, 4000, n_jobs),
        job_deadline_s=np.full(n_jobs, 600.0),
    )
    zeros = np.zeros(n_jobs)
    return SchedulerView(
        time_s=3600.0,
        static=static,
        active=np.ones(n_jobs, dtype=bool),
        arrival_s=rng.random(n_jobs) * 3600,
        rounds_done=zeros.astype(int),
        open_demand=static.job_participants.copy(),
        assigned=zeros.astype(int),
        results=zeros.astype(int),
        round_request_s=zeros,
        round_held_until_s=np.full(n_jobs, np.nan),
        attained=zeros.astype(int),
        failed_rounds=zeros.astype(int),
        last_scheduling_delay_s=rng.random(n_jobs) * 600,
        last_response_s=rng.random(n_jobs) * 300,
        class_supply_per_s=rng.random(n_classes),
        tier_response_p95_s=np.array([60.0, 90.0, 130.0, 300.0])[:tiers],
        all_response_p95_s=200.0,
    )


def venn_decision_time_us(repeats: int = 200) -> tuple[float, float]:
    """Median time (µs) of one Venn decision (demands, order, group allocation, tier pick
    at a round request) and of expanding it into the (class x job) score matrix."""
    from ..baselines import make_policy
    from ..simulation import SchedulingEvent

    view = synthetic_view()
    policy = make_policy("venn")
    policy.reset(view.static, 0)
    events = [SchedulingEvent(view.time_s, "request", 0)]
    policy.decide(view, events)  # compiles the take-over pass (or loads it from numba's cache)
    decision_s, matrix_s = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        decision = policy.decide(view, events)
        decision_s.append(time.perf_counter() - start)
    for _ in range(repeats):
        start = time.perf_counter()
        decision.scores(view.static)
        matrix_s.append(time.perf_counter() - start)
    return float(np.median(decision_s) * 1e6), float(np.median(matrix_s) * 1e6)
