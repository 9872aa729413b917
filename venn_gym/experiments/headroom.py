"""How far from the best schedule is Venn? Per scenario and seed, with hindsight:

- **oracle**: a hindsight search that knows the seed's whole future and uses the simulator as
  its objective. Its schedule space is Venn's with a constant priority shift per job added to
  Venn's scores (in units of Venn's job ranks): shift 0 is Venn itself, and a shift can move a
  job up or down the order inside its group and among the other groups' devices, but not change
  which group a device class serves first, nor the tier matching. Local search from shift 0:
  each step proposes one job's shift changed by one of a few sizes, and keeps it when the mean
  JCT (censored at the horizon) of that seed falls. Every result is a simulated schedule, so it
  is achievable: the best schedule of this space is at least this good (an upper bound on the
  optimal mean JCT, not a proof of optimality).
- **contention-free**: each job run alone on the same devices, check-ins and noise (the mean of
  those JCTs). A reference for the cost of sharing, not a strict bound: the noise of which
  check-ins a round happens to use can make a shared run's job finish earlier than its run alone.
- **lower bound**: a time-indexed linear program over the seed's actual check-ins (HiGHS, through
  scipy). Every result a successful round counts takes one check-in of an eligible device, made
  after the job's arrival, and a job ends no earlier than the average start of the
  ``rounds x quorum`` check-ins whose results it counts; a unit not delivered by the horizon
  counts at the horizon (the censored mean). The LP minimises the mean of those ends over every
  split of each slot's check-ins among the jobs. It relaxes: the order of rounds, deadlines and
  failures, task times (a result counts at its check-in's start), devices kept busy for their
  window, and time inside a slot (a check-in counts at its slot's start; slots of 10 minutes for
  the first day, then 10 % longer each). No schedule can beat it; it is loose where round
  sequencing and deadlines bind.
- Venn, SRSF and both Randoms on the same seed.

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
from ..metrics import censored_jct
from ..outputs import output_folder, write_atomically
from ..policy import Policy, run_policy
from ..scenario import Scenario
from ..seeds import ORACLE_STREAM, stream

log = logging.getLogger(__name__)

REFERENCES = ("venn", "srsf", "random-order", "random")
SHIFT_SIZES = (1.5, 4.5, 12.5, 50.5)  # in ranks; the .5 keeps a shifted job off its neighbours' ranks


class ShiftedPolicy(Policy):
    """``base``'s scores plus a constant shift per job (``-inf`` stays ``-inf``)."""

    def __init__(self, base: Policy, shift: np.ndarray):
        self.base, self.shift = base, np.asarray(shift, dtype=float)
        self.name = f"{base.name}+shift"

    def reset(self, static, seed: int) -> None:
        self.base.reset(static, seed)

    def scores(self, view, events) -> np.ndarray:
        return self.base.scores(view, events) + self.shift


def censored_mean_jct(scenario: Scenario, policy: Policy) -> float:
    return float(censored_jct(run_policy(scenario, policy, keep_rounds=False).summary()))


@dataclass
class SearchResult:
    best_jct_s: float
    start_jct_s: float
    shift: np.ndarray
    evaluations: int
    accepted: int
    wall_s: float


def hindsight_search(
    scenario: Scenario, budget: int, seed: int = 0, on_step: Callable[[int, float], None] | None = None
) -> SearchResult:
    """Local search over per-job priority shifts on top of Venn, from shift 0 (Venn itself)."""
    from ..baselines import make_policy

    started = time.perf_counter()
    n_jobs = len(scenario.workload.jobs)
    rng = stream(seed, ORACLE_STREAM)
    shift = np.zeros(n_jobs)
    best = start = censored_mean_jct(scenario, ShiftedPolicy(make_policy("venn"), shift))
    accepted = 0
    for step in range(1, budget):
        proposal = shift.copy()
        job = int(rng.integers(n_jobs))
        proposal[job] += rng.choice(SHIFT_SIZES) * rng.choice((-1.0, 1.0))
        jct = censored_mean_jct(scenario, ShiftedPolicy(make_policy("venn"), proposal))
        if jct < best:
            best, shift, accepted = jct, proposal, accepted + 1
        if on_step is not None:
            on_step(step, best)
    return SearchResult(best, start, shift, max(budget, 1), accepted, time.perf_counter() - started)


def contention_free_mean_jct(scenario: Scenario) -> float:
    """Each job alone on the scenario's devices and check-ins (any policy: one job), averaged."""
    from ..baselines import make_policy

    jcts = []
    for job in scenario.workload.jobs:
        alone = scenario.replace(workload=Workload((job,), name=f"{job.name} alone"))
        jcts.append(censored_mean_jct(alone, make_policy("fifo")))
    return float(np.mean(jcts))


def _slot_starts(horizon_s: float) -> np.ndarray:
    """Slot starts: 10 minutes for the first day, then each slot 10 % longer, up to the horizon."""
    starts = list(np.arange(0.0, min(horizon_s, 86_400.0), 600.0))
    while starts[-1] < horizon_s:
        starts.append(max(starts[-1] * 1.1, starts[-1] + 600.0))
    return np.array(starts[:-1] if starts[-1] >= horizon_s else starts)


def lp_lower_bound(scenario: Scenario) -> float:
    """A lower bound on the mean JCT censored at the horizon (the module docstring says what it relaxes)."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_array

    from ..simulation import Simulation

    sim = Simulation(scenario, keep_rounds=False)
    static = sim.static
    horizon = scenario.horizon_s or scenario.max_sim_days * 86_400.0
    starts = _slot_starts(horizon)
    n_slots = len(starts)
    pattern_of_class = np.arange(static.n_classes) // static.speed_tiers
    n_patterns = int(pattern_of_class.max()) + 1
    supply = np.zeros((n_patterns, n_slots))
    chunk = 0
    while chunk * scenario.trace.chunk_s < horizon:
        found = scenario.trace.chunk(chunk, scenario.seed)
        keep = found.time < horizon
        slots = np.searchsorted(starts, found.time[keep], side="right") - 1
        patterns = pattern_of_class[sim._device_class[found.device[keep]]]
        np.add.at(supply, (patterns, slots), 1.0)
        chunk += 1
    jobs = scenario.workload.jobs
    arrival = np.array([j.arrival_s for j in jobs])
    demand = np.array([j.rounds * j.quorum_count for j in jobs], dtype=float)
    eligible = static.job_eligible[:: static.speed_tiers]  # [pattern, job]: tiers share a pattern's eligibility
    # Variables: y[p, j, t] for eligible (p, j) and slots ending after j's arrival, then one "late"
    # unit count per job (delivered at the horizon).
    pairs = [(p, j) for p in range(n_patterns) for j in range(len(jobs)) if eligible[p, j]]
    var_p, var_j, var_t = [], [], []
    slot_ends = np.append(starts[1:], horizon)
    for p, j in pairs:
        for t in np.flatnonzero(slot_ends > arrival[j]):
            var_p.append(p), var_j.append(j), var_t.append(t)
    var_p, var_j, var_t = np.array(var_p), np.array(var_j), np.array(var_t)
    n_y, n_jobs = len(var_p), len(jobs)
    when = np.maximum(starts[var_t], arrival[var_j])
    cost = np.concatenate([(when - arrival[var_j]) / demand[var_j], (horizon - arrival) / demand]) / n_jobs
    supply_rows = var_p * n_slots + var_t
    a_ub = coo_array((np.ones(n_y), (supply_rows, np.arange(n_y))), shape=(n_patterns * n_slots, n_y + n_jobs))
    a_eq = coo_array(
        (np.ones(n_y + n_jobs), (np.concatenate([var_j, np.arange(n_jobs)]), np.arange(n_y + n_jobs))),
        shape=(n_jobs, n_y + n_jobs),
    )
    solved = linprog(
        cost, A_ub=a_ub.tocsr(), b_ub=supply.ravel(), A_eq=a_eq.tocsr(), b_eq=demand, bounds=(0, None), method="highs"
    )
    if solved.status != 0:
        raise RuntimeError(f"the headroom LP did not solve: {solved.message}")
    return float(solved.fun)


def headroom_row(
    scenario_name: str, options: dict, seed: int, budget: int, on_step: Callable[[int, float], None] | None = None
) -> dict:
    """One (scenario, seed): the references, the contention-free mean and the oracle, in hours."""
    from ..baselines import make_policy

    scenario = make_scenario(scenario_name, seed=seed, **options)
    row = {"scenario": scenario_name, "seed": seed, "options": options, "budget": budget}
    for name in REFERENCES:
        row[f"{name}_h"] = censored_mean_jct(scenario, make_policy(name)) / 3600
    row["contention_free_h"] = contention_free_mean_jct(scenario) / 3600
    row["lower_bound_h"] = lp_lower_bound(scenario) / 3600
    search = hindsight_search(scenario, budget, seed=seed, on_step=on_step)
    assert abs(search.start_jct_s / 3600 - row["venn_h"]) < 1e-9, "shift 0 must be Venn itself"
    row.update(
        oracle_h=search.best_jct_s / 3600,
        oracle_accepted=search.accepted,
        oracle_wall_s=search.wall_s,
        oracle_shift=search.shift.tolist(),
    )
    row["oracle_gain_over_venn"] = row["venn_h"] / row["oracle_h"]
    return row


def headroom_table(rows: Sequence[dict]) -> list[str]:
    lines = [
        "| scenario | seed | lower bound (h) | oracle (h) | Venn (h) | SRSF (h) | Random-order (h) | Random (h) | "
        "contention-free (h) | oracle gain over Venn | Venn / bound | steps kept / budget |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scenario']} | {r['seed']} | {r['lower_bound_h']:.2f} | {r['oracle_h']:.2f} | {r['venn_h']:.2f} | "
            f"{r['srsf_h']:.2f} | {r['random-order_h']:.2f} | {r['random_h']:.2f} | {r['contention_free_h']:.2f} | "
            f"{r['oracle_gain_over_venn']:.3f}x | {r['venn_h'] / r['lower_bound_h']:.2f}x | "
            f"{r['oracle_accepted']} / {r['budget']} |"
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
) -> list[dict]:
    """Rows for every (scenario, seed), written to ``out`` (headroom.md, headroom.json) whole."""
    rows = []
    started = time.perf_counter()
    for name in scenarios:
        for seed in seeds:
            rows.append(headroom_row(name, options, seed, budget))
            r = rows[-1]
            log.info(
                "%s seed %d: oracle %.2f h, Venn %.2f h (%.3fx), contention-free %.2f h",
                name,
                seed,
                r["oracle_h"],
                r["venn_h"],
                r["oracle_gain_over_venn"],
                r["contention_free_h"],
            )
    header = [
        f"Produced by `{command}` on {machine} in {(time.perf_counter() - started) / 60:.0f} min; "
        f"options {options}; seeds {list(seeds)}; oracle budget {budget} simulations per seed.",
        "",
    ]
    with output_folder(out, overwrite=overwrite) as folder:
        write_atomically(folder / "headroom.md", "\n".join(header + headroom_table(rows)) + "\n")
        write_atomically(folder / "headroom.json", json.dumps(rows, indent=1) + "\n")
    return rows
