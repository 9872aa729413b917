"""How far from the best schedule is Venn? Per scenario and seed, with hindsight:

- **oracle**: a hindsight search that knows the seed's whole future and uses the simulator as
  its objective (:mod:`venn_gym.experiments.oracle`). Its schedule space is Venn's decisions
  changed by three constant settings Venn has no knob for: a priority shift per job, a hold
  before each retry of a job's failed round (a backoff per job), and a split of each device
  class between the group Venn gives it to and another group. Local search from Venn itself:
  each step changes one setting and keeps the change when the seed's mean JCT (censored at the
  horizon) falls. Every result is a simulated schedule, so it is achievable: the best schedule of
  this space is at least this good (an upper bound on the optimal mean JCT, not a proof of
  optimality).
- **contention-free**: each job run alone on the same devices, check-ins and noise (the mean of
  those JCTs). A reference for the cost of sharing, not a strict bound: the noise of which
  check-ins a round happens to use can make a shared run's job finish earlier than its run alone.
- **lower bound**: a time-indexed linear program over the seed's actual check-ins (HiGHS, through
  scipy; :mod:`venn_gym.experiments.lower_bound` says what it enforces and what it relaxes):
  usable check-ins per job (task ends in the window, under request timing inside a window that
  could hold a quorum), busy devices (one device's overlapping windows), every result before an
  end, rounds one after another. No schedule can beat it; it is loose where contention inside a
  round's window binds (the LP shares a slot's check-ins as amounts, so failed rounds, wasted
  tasks and stragglers cost it nothing).
- Venn, SRSF and both Randoms on the same seed.
- **other futures**: the oracle knows one future; how much of its gain is the workload's and how much
  that future's chance events? The same jobs and devices under ``futures`` re-drawn futures (new
  check-ins, task noise, tie and policy draws: :func:`~venn_gym.experiments.oracle.redrawn_futures`),
  Venn against the oracle's settings, per future. And a **robust oracle**: the same search, with
  ``robust_budget`` evaluations, lowering the mean over ``robust_futures`` other futures, then
  scored on the held-out ones. What the robust oracle gains there is headroom a policy that knew the
  whole workload in advance, but not the future, could hope for in this space.

``venn-gym headroom --scenarios paper/low-v1 --scale 0.05 --seeds 100-101 --budget 100 --out DIR``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..catalog import make_scenario
from ..jobs import Workload
from ..outputs import output_folder, write_atomically
from ..parallel import run_parallel
from ..scenario import Scenario
from .evaluate import ci95
from .lower_bound import lp_lower_bound
from .oracle import OracleSchedule, OracleSettings, censored_mean_jct, hindsight_search, redrawn_futures

log = logging.getLogger(__name__)

REFERENCES = ("venn", "srsf", "random-order", "random")


def contention_free_mean_jct(scenario: Scenario) -> float:
    """Each job alone on the scenario's devices and check-ins (any policy: one job), averaged."""
    from ..baselines import make_policy

    jcts = []
    for job in scenario.workload.jobs:
        alone = scenario.replace(workload=Workload((job,), name=f"{job.name} alone"))
        jcts.append(censored_mean_jct(alone, make_policy("fifo")))
    return float(np.mean(jcts))


@dataclass(frozen=True)
class FutureOptions:
    """How the headroom looks beyond the oracle's own future: ``futures`` held-out futures (0: none),
    and a robust oracle searched with ``robust_budget`` evaluations (0: none) over ``robust_futures``
    other ones."""

    futures: int = 0
    robust_budget: int = 0
    robust_futures: int = 3


def gains_on(futures: Sequence[Scenario], settings: OracleSettings) -> list[float]:
    """Per future, Venn's mean JCT (censored) / that of Venn changed by ``settings``."""
    from ..baselines import make_policy

    return [
        censored_mean_jct(f, make_policy("venn")) / censored_mean_jct(f, OracleSchedule(make_policy("venn"), settings))
        for f in futures
    ]


def headroom_row(
    scenario_name: str,
    options: dict,
    seed: int,
    budget: int,
    on_step: Callable[[int, float], None] | None = None,
    beyond: FutureOptions = FutureOptions(),
) -> dict:
    """One (scenario, seed): the references, the contention-free mean and the oracle, in hours; with
    ``beyond``, the oracle's gain on other futures and the robust oracle's."""
    from ..baselines import make_policy

    scenario = make_scenario(scenario_name, seed=seed, **options)
    row = {"scenario": scenario_name, "seed": seed, "options": options, "budget": budget}
    for name in REFERENCES:
        row[f"{name}_h"] = censored_mean_jct(scenario, make_policy(name)) / 3600
    row["contention_free_h"] = contention_free_mean_jct(scenario) / 3600
    started = time.perf_counter()
    row["lower_bound_h"] = lp_lower_bound(scenario) / 3600
    row["lower_bound_wall_s"] = time.perf_counter() - started
    search = hindsight_search(scenario, budget, seed=seed, on_step=on_step)
    assert abs(search.start_jct_s / 3600 - row["venn_h"]) < 1e-9, "the search must start from Venn itself"
    row.update(
        oracle_h=search.best_jct_s / 3600,
        oracle_accepted=search.accepted,
        oracle_accepted_by_move=search.accepted_by_move,
        oracle_wall_s=search.wall_s,
        oracle_settings=search.settings.as_dict(),
    )
    row["oracle_gain_over_venn"] = row["venn_h"] / row["oracle_h"]
    if beyond.futures:
        held_out = redrawn_futures(scenario, 0, beyond.futures)
        row["future_seeds"] = [f.seed for f in held_out]
        row["oracle_gain_other_futures"] = gains_on(held_out, search.settings)
        if beyond.robust_budget:
            training = redrawn_futures(scenario, beyond.futures, beyond.robust_futures)
            robust = hindsight_search(training, beyond.robust_budget, seed=seed)
            row.update(
                robust_budget=beyond.robust_budget,
                robust_future_seeds=[f.seed for f in training],
                robust_gain_searched=robust.start_jct_s / robust.best_jct_s,
                robust_accepted=robust.accepted,
                robust_settings=robust.settings.as_dict(),
                robust_gain_other_futures=gains_on(held_out, robust.settings),
            )
    return row


def _row_task(task: tuple) -> dict:
    """:func:`headroom_row` of one (scenario, options, seed, budget, beyond), for worker processes."""
    name, options, seed, budget, beyond = task
    return headroom_row(name, dict(options), seed, budget, beyond=beyond)


def _mean_and_interval(gains: Sequence[float]) -> str:
    low, high = ci95(gains)
    return f"{np.mean(gains):.3f}x [{low:.3f}, {high:.3f}]"


def headroom_table(rows: Sequence[dict]) -> list[str]:
    lines = [
        "| scenario | seed | lower bound (h) | oracle (h) | Venn (h) | SRSF (h) | Random-order (h) | Random (h) | "
        "contention-free (h) | oracle gain over Venn | Venn / bound | steps kept / budget (shift, backoff, split) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        moves = r["oracle_accepted_by_move"]
        lines.append(
            f"| {r['scenario']} | {r['seed']} | {r['lower_bound_h']:.2f} | {r['oracle_h']:.2f} | {r['venn_h']:.2f} | "
            f"{r['srsf_h']:.2f} | {r['random-order_h']:.2f} | {r['random_h']:.2f} | {r['contention_free_h']:.2f} | "
            f"{r['oracle_gain_over_venn']:.3f}x | {r['venn_h'] / r['lower_bound_h']:.2f}x | "
            f"{r['oracle_accepted']} / {r['budget']} ({moves['shift']}, {moves['backoff']}, {moves['split']}) |"
        )
    beyond = [r for r in rows if "oracle_gain_other_futures" in r]
    if beyond:
        lines += [
            "",
            "| scenario | seed | oracle gain, its own future | oracle gain, other futures (mean [95 % interval]) "
            "| robust oracle gain, futures it searched | robust oracle gain, other futures "
            "| robust steps kept / budget |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in beyond:
            robust = (
                [f"{r['robust_gain_searched']:.3f}x", _mean_and_interval(r["robust_gain_other_futures"])]
                + [f"{r['robust_accepted']} / {r['robust_budget']}"]
                if "robust_gain_other_futures" in r
                else ["-", "-", "-"]
            )
            lines.append(
                f"| {r['scenario']} | {r['seed']} | {r['oracle_gain_over_venn']:.3f}x | "
                f"{_mean_and_interval(r['oracle_gain_other_futures'])} (n = {len(r['future_seeds'])}) | "
                + " | ".join(robust)
                + " |"
            )
    return lines


def headroom(
    scenarios: Sequence[str],
    options: dict,
    seeds: Sequence[int],
    budget: int,
    out: Path,
    command: str,
    machine: str,
    overwrite: bool = False,
    beyond: FutureOptions = FutureOptions(),
    workers: int = 1,
) -> list[dict]:
    """Rows for every (scenario, seed), computed in ``workers`` processes and written to ``out``
    (headroom.md, headroom.json) whole."""
    started = time.perf_counter()

    def done(r: dict) -> None:
        log.info(
            "%s seed %d: oracle %.2f h, Venn %.2f h (%.3fx), contention-free %.2f h",
            r["scenario"],
            r["seed"],
            r["oracle_h"],
            r["venn_h"],
            r["oracle_gain_over_venn"],
            r["contention_free_h"],
        )

    tasks = [(name, tuple(sorted(options.items())), seed, budget, beyond) for name in scenarios for seed in seeds]
    rows = run_parallel(_row_task, tasks, workers, on_done=done)
    header = [
        f"Produced by `{command}` on {machine} in {(time.perf_counter() - started) / 60:.0f} min; "
        f"options {options}; seeds {list(seeds)}; oracle budget {budget} simulations per seed.",
        "",
    ]
    if beyond.futures:
        header += [
            f"Other futures: the same jobs and devices under {beyond.futures} re-drawn futures per seed (new "
            "check-ins, task noise, tie and policy draws; their seeds in headroom.json)"
            + (
                f"; robust oracle: the same search, {beyond.robust_budget} evaluations, lowering the mean over "
                f"{beyond.robust_futures} further futures, scored on the held-out ones."
                if beyond.robust_budget
                else "."
            ),
            "",
        ]
    with output_folder(out, overwrite=overwrite) as folder:
        write_atomically(folder / "headroom.md", "\n".join(header + headroom_table(rows)) + "\n")
        write_atomically(folder / "headroom.json", json.dumps(rows, indent=1) + "\n")
    return rows
