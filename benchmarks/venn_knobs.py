"""Paired search over constant variants of Venn's decision knobs (results/agents.md, attempt 3).

Each variant is a :class:`~venn_gym.baselines.venn.VennPolicy` with one or a few knobs changed
(:class:`KnobVenn`: ``alpha`` is VennPolicy's own ``take_over_margin``, ``beta`` and ``key`` are
added here); it runs natively on the same scenario seeds as Venn (common random numbers), and the
table reports the paired ratio Venn mean JCT / variant mean JCT per seed (> 1: the variant is faster).

Knobs (defaults = Venn exactly, checked by ``--check``):

- ``alpha``: take-over margin; group j takes k's devices while m'_j/|S'_j| > alpha * m'_k/|S'_k|
  (alpha < 1: more take-over, alpha > 1: less, ``inf``: none);
- ``beta``: weight of the rounds still to come in a job's remaining demand (0: SRSF's current
  round only; large: fewest remaining rounds first);
- ``key``: the cross-job order: ``service`` (remaining demand, Venn's) or ``time`` (remaining
  time alone: demand / the group's supply + rounds left x the response p95); the group
  allocation still uses remaining demand;
- ``e``: Venn's fairness knob; ``matching``: tier matching on/off.

Usage (2 workers, about 5 min): python benchmarks/venn_knobs.py --seeds 10000-10011 --out runs/venn_knobs.csv
``--check`` compares KnobVenn() with make_policy("venn") event for event; variant names take no commas
in ``--variants`` (combinations use ``+``).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import os
import time

import numpy as np

from venn_gym.baselines.venn import VennDecision, VennPolicy
from venn_gym.catalog import make_scenario
from venn_gym.parallel import run_parallel
from venn_gym.policy import rank_order, run_policy, scores_of_order
from venn_gym.seeds import SEEDS_HELP, parse_seeds


class KnobVenn(VennPolicy):
    """Venn with two extra knobs that only this study needs: ``beta`` and ``key``."""

    def __init__(self, alpha=1.0, beta=1.0, key="service", e=0.0, matching=True):
        super().__init__(scheduling=True, matching=matching, fairness=e, take_over_margin=alpha)
        self.beta, self.key = float(beta), key
        self.name = f"venn[alpha={alpha:g},beta={beta:g},key={key},e={e:g},match={int(matching)}]"

    def _effective_demand(self, view):
        demand = super()._effective_demand(view)
        if self.beta == 1.0:
            return demand
        static = view.static
        future = np.maximum(static.job_rounds - view.rounds_done - 1, 0) * static.job_participants.astype(float)
        return demand + (self.beta - 1.0) * future

    def decide(self, view, events):
        decision = super().decide(view, events)
        if self.key == "service":
            return decision
        static = view.static
        supply = np.maximum((view.class_supply_per_s @ static.class_eligible)[static.job_requirement], 1e-9)
        response = view.all_response_p95_s if np.isfinite(view.all_response_p95_s) else 0.0
        rounds_left = np.maximum(static.job_rounds - view.rounds_done, 0)
        remaining_time = self._effective_demand(view) / supply + rounds_left * response
        order = rank_order(remaining_time, view.arrival_s)
        return VennDecision(scores_of_order(order), decision.class_group, decision.job_tier)


VARIANTS = {
    "venn": {},
    "alpha=0": {"alpha": 0.0},
    "alpha=0.5": {"alpha": 0.5},
    "alpha=0.8": {"alpha": 0.8},
    "alpha=1.25": {"alpha": 1.25},
    "alpha=2": {"alpha": 2.0},
    "alpha=inf": {"alpha": math.inf},
    "beta=0": {"beta": 0.0},
    "beta=0.5": {"beta": 0.5},
    "beta=2": {"beta": 2.0},
    "key=time": {"key": "time"},
    "e=0.5": {"e": 0.5},
    "e=-0.5": {"e": -0.5},
    "no-match": {"matching": False},
    "alpha=1.1": {"alpha": 1.1},
    "alpha=1.5": {"alpha": 1.5},
    "beta=1.5": {"beta": 1.5},
    "beta=4": {"beta": 4.0},
    "no-match+alpha=1.25": {"matching": False, "alpha": 1.25},
    "no-match+alpha=1.25+beta=2": {"matching": False, "alpha": 1.25, "beta": 2.0},
    "no-match+alpha=1.1": {"matching": False, "alpha": 1.1},
}


def _run(task):
    variant, scenario, seed, scale = task
    result = run_policy(
        make_scenario(scenario, seed=seed, scale=scale), KnobVenn(**VARIANTS[variant]), keep_rounds=False
    )
    return variant, scenario, seed, float(np.mean([j.jct_s for j in result.jobs]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default="paper/low-v0,paper/even-v0")
    parser.add_argument("--seeds", default="10000-10011", type=parse_seeds, help=SEEDS_HELP)
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="runs/venn_knobs.csv")
    parser.add_argument("--check", action="store_true", help="only check that the defaults reproduce Venn")
    args = parser.parse_args()
    scenarios = args.scenarios.split(",")
    if args.check:
        from venn_gym.baselines import make_policy

        for scenario in scenarios:
            a = run_policy(make_scenario(scenario, seed=args.seeds[0], scale=args.scale), KnobVenn(), keep_rounds=False)
            b = run_policy(
                make_scenario(scenario, seed=args.seeds[0], scale=args.scale), make_policy("venn"), keep_rounds=False
            )
            assert [j.end_s for j in a.jobs] == [j.end_s for j in b.jobs], scenario
        print("defaults reproduce venn")
        return
    variants = args.variants.split(",")
    if "venn" not in variants:
        variants.insert(0, "venn")
    tasks = list(itertools.product(variants, scenarios, args.seeds, [args.scale]))
    start = time.time()
    rows = run_parallel(_run, tasks, args.workers)
    jct = {(v, s, seed): m for v, s, seed, m in rows}
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)  # runs/ does not exist in a fresh clone
    with open(args.out, "w", newline="") as f:
        csv.writer(f).writerows([("variant", "scenario", "seed", "mean_jct_s"), *rows])
    print(f"{len(tasks)} runs in {time.time() - start:.0f} s; paired ratio venn/variant (>1: variant faster)")
    print("| variant | " + " | ".join(f"{s} mean | min | max | wins" for s in scenarios) + " |")
    for v in variants:
        cells = []
        for s in scenarios:
            r = np.array([jct[("venn", s, seed)] / jct[(v, s, seed)] for seed in args.seeds])
            cells.append(f"{r.mean():.4f} | {r.min():.3f} | {r.max():.3f} | {(r > 1.0005).sum()}/{len(r)}")
        print(f"| {v} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
