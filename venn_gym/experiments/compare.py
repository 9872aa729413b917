"""Run several policies over several seeds of one scenario and summarise them."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from .. import parallel
from ..catalog import make_scenario
from ..metrics import RunResult
from ..outputs import machine_description
from ..policy import run_policy

REFERENCE_POLICY = "random"


@dataclass(frozen=True)
class RunSpec:
    scenario: str
    seed: int
    policy: str
    options: tuple[tuple[str, object], ...] = ()
    keep_rounds: bool = False


@dataclass(frozen=True)
class TimedRun:
    spec: RunSpec
    result: RunResult
    wall_s: float


PROGRESS_EVERY_S = 1.0  # wall seconds between two progress reports of one run

ProgressCallback = Callable[[int, float, int, int], None]


def execute(spec: RunSpec, index: int = 0, on_progress: Optional[ProgressCallback] = None) -> TimedRun:
    """One simulation. Progress, about once a second as (index, simulated s, jobs ended, jobs),
    goes to ``on_progress`` or, in a worker of :func:`run_many`, to the caller's."""
    from ..baselines import make_policy

    scenario = make_scenario(spec.scenario, seed=spec.seed, **dict(spec.options))
    policy = make_policy(spec.policy)
    last = [0.0]
    tell = on_progress if on_progress is not None else (parallel.report if parallel.in_worker() else None)

    def progress(sim) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            tell(index, sim.now, sim.jobs_ended, sim.static.n_jobs)

    start = time.perf_counter()
    result = run_policy(scenario, policy, keep_rounds=spec.keep_rounds, on_progress=progress if tell else None)
    return TimedRun(spec, result, time.perf_counter() - start)


def _execute_task(task: tuple[RunSpec, int]) -> TimedRun:
    return execute(*task)


def run_many(
    specs: Sequence[RunSpec],
    workers: int = 1,
    on_done: Optional[Callable[[TimedRun], None]] = None,
    on_progress: Optional[ProgressCallback] = None,
) -> list[TimedRun]:
    """Run specs (in parallel processes when workers > 1); results come back in spec order.
    ``on_progress(index, simulated_s, jobs_ended, jobs)`` hears from runs under way about once a second.
    Ctrl-C stops the workers and raises :class:`venn_gym.parallel.Interrupted` with the runs that had ended."""
    if workers <= 1:
        return parallel.run_parallel(
            lambda task: execute(*task, on_progress), list(zip(specs, range(len(specs)))), on_done=on_done
        )
    return parallel.run_parallel(_execute_task, list(zip(specs, range(len(specs)))), workers, on_done, on_progress)


def summarise(runs: Sequence[TimedRun]) -> dict:
    """The ``summary.json`` content: per policy, averages over seeds and each seed's figures."""
    by_policy: dict[str, list[TimedRun]] = {}
    for run in runs:
        by_policy.setdefault(run.spec.policy, []).append(run)
    reference = {r.spec.seed: r.result.summary() for r in by_policy.get(REFERENCE_POLICY, [])}
    policies = {}
    for name, group in by_policy.items():
        per_seed = []
        for run in sorted(group, key=lambda r: r.spec.seed):
            s = run.result.summary()
            ref = reference.get(run.spec.seed)
            s.update(
                seed=run.spec.seed,
                wall_s=run.wall_s,
                checkins_per_s=s["checkins"] / run.wall_s if run.wall_s > 0 else float("nan"),
                speedup_vs_random=(ref["mean_jct_s"] / s["mean_jct_s"]) if ref else None,
                speedup_vs_random_censored=(ref["mean_jct_censored_s"] / s["mean_jct_censored_s"]) if ref else None,
            )
            per_seed.append(s)
        jct = np.concatenate([r.result.jct_s for r in group])
        means = np.array([s["mean_jct_s"] for s in per_seed])
        speedups = [s["speedup_vs_random"] for s in per_seed if s["speedup_vs_random"] is not None]
        censored = [s["speedup_vs_random_censored"] for s in per_seed if s["speedup_vs_random_censored"] is not None]
        policies[name] = {
            "mean_jct_s": float(means.mean()),
            "mean_jct_s_std": float(means.std(ddof=1)) if len(means) > 1 else 0.0,
            "p50_jct_s": float(np.percentile(jct, 50)) if len(jct) else float("nan"),
            "p95_jct_s": float(np.percentile(jct, 95)) if len(jct) else float("nan"),
            "makespan_s": float(np.mean([s["makespan_s"] for s in per_seed])),
            "speedup_vs_random": float(np.mean(speedups)) if speedups else None,
            "speedup_vs_random_std": float(np.std(speedups, ddof=1)) if len(speedups) > 1 else 0.0,
            "mean_jct_censored_s": float(np.mean([s["mean_jct_censored_s"] for s in per_seed])),
            "speedup_vs_random_censored": float(np.mean(censored)) if censored else None,
            "speedup_vs_random_censored_std": float(np.std(censored, ddof=1)) if len(censored) > 1 else 0.0,
            "unfinished_jobs": int(sum(s["unfinished_jobs"] for s in per_seed)),
            "failed_rounds": float(np.mean([s["failed_rounds"] for s in per_seed])),
            "wasted_task_share": float(
                np.sum([s["wasted_tasks"] for s in per_seed]) / max(1, np.sum([s["tasks"] for s in per_seed]))
            ),
            "mean_scheduling_delay_s": float(np.mean([s["mean_scheduling_delay_s"] for s in per_seed])),
            "mean_queuing_delay_s": float(np.mean([s["mean_queuing_delay_s"] for s in per_seed])),
            "mean_response_time_s": float(np.mean([s["mean_response_time_s"] for s in per_seed])),
            "per_seed": per_seed,
        }
    first = runs[0].spec
    return {
        "scenario": first.scenario,
        "scenario_name": runs[0].result.scenario,  # the registered name, also when a file path was given
        "scenario_options": dict(first.options),
        "seeds": sorted({r.spec.seed for r in runs}),
        "reference_policy": REFERENCE_POLICY,
        "policies": policies,
        "machine": machine_description(),
    }


def options_text(options: dict) -> str:
    """Scenario options as a command line shows them: ``scale=0.05 n_jobs=10``."""
    return " ".join(
        f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}" for key, value in options.items()
    )


def scenario_title(summary: dict) -> str:
    """``mylab/shop-v0, scale 0.05, seeds 0-2``: what a plot shows, by name rather than file path."""
    name = summary.get("scenario_name") or summary["scenario"]
    options = "".join(
        f", {k} {v:g}" if isinstance(v, float) else f", {k} {v}" for k, v in summary["scenario_options"].items()
    )
    seeds = summary["seeds"]
    span = (
        f"{seeds[0]}-{seeds[-1]}"
        if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 1
        else ",".join(map(str, seeds))
    )
    return f"{name}{options}, seeds {span}"


def table_lines(summary: dict) -> list[str]:
    """A plain-text table of the summary, one row per policy (means over seeds; times per job,
    summed over its rounds)."""
    head = (
        f"{'policy':<18}{'mean JCT (h)':>13}{'± sd':>7}{'censored (h)':>13}{'p95 JCT (h)':>12}"
        f"{'speed-up':>9}{'unfinished':>11}{'failed rnds':>12}{'wasted':>8}"
        f"{'sched (h)':>10}{'queuing (h)':>12}{'response (h)':>13}"
    )
    lines = [head, "-" * len(head)]
    for name, p in summary["policies"].items():
        speedup = "" if p["speedup_vs_random_censored"] is None else f"{p['speedup_vs_random_censored']:.2f}x"
        lines.append(
            f"{name:<18}{p['mean_jct_s'] / 3600:>13.1f}{p['mean_jct_s_std'] / 3600:>7.1f}"
            f"{p['mean_jct_censored_s'] / 3600:>13.1f}{p['p95_jct_s'] / 3600:>12.1f}{speedup:>9}"
            f"{p['unfinished_jobs']:>11}{p['failed_rounds']:>12.0f}{p['wasted_task_share']:>8.1%}"
            f"{p['mean_scheduling_delay_s'] / 3600:>10.1f}{p['mean_queuing_delay_s'] / 3600:>12.1f}"
            f"{p['mean_response_time_s'] / 3600:>13.1f}"
        )
    lines.append(
        "mean JCT over finished jobs; censored: every arrived job, an unfinished one counted as ending "
        "at the horizon (speed-up: Random's censored mean / the policy's); wasted: share of tasks "
        "dispatched to rounds that failed"
    )
    return lines


def write_outputs(runs: Sequence[TimedRun], summary: dict, out: Path, command: str) -> list[Path]:
    """Per-job CSV, summary.json and plots into ``out``."""
    import pandas as pd

    from .plots import plot_jct_cdf, plot_speedups

    out.mkdir(parents=True, exist_ok=True)
    rows = [row for run in runs for row in run.result.job_rows()]
    jobs_csv = out / "jobs.csv"
    pd.DataFrame(rows).to_csv(jobs_csv, index=False)
    summary = dict(summary, command=command)
    summary_json = out / "summary.json"
    summary_json.write_text(json.dumps(summary, indent=2) + "\n")
    written = [jobs_csv, summary_json]
    if any(run.spec.keep_rounds for run in runs):
        rounds_csv = out / "rounds.csv.gz"
        pd.DataFrame([row for run in runs for row in run.result.round_rows()]).to_csv(rounds_csv, index=False)
        written.append(rounds_csv)
    jct_by_policy = {}
    for run in runs:
        jct_by_policy.setdefault(run.spec.policy, []).append(run.result.jct_s)
    written.append(
        plot_jct_cdf(
            {k: np.concatenate(v) for k, v in jct_by_policy.items()}, out / "jct_cdf.png", title=scenario_title(summary)
        )
    )
    if any(p["speedup_vs_random"] is not None for p in summary["policies"].values()):
        written.append(plot_speedups(summary, out / "speedup.png", scenario_title(summary)))
    return written
