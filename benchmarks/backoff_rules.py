"""Do simple rules capture what the robust oracle found? (results/agents.md, issue 11.)

The robust oracle of ``venn-gym headroom --robust-budget`` gains over Venn on held-out futures of
two of its six workloads, mostly by holding back the retries of some large jobs' failed rounds.
This tries that idea as static rules over a workload's jobs: hold the retry of every failed round
of the jobs at or above a quantile of size (participants x rounds) or of participants, for a
fixed time (the oracle's backoff, :class:`~venn_gym.experiments.oracle.OracleSchedule`), on
training seeds, paired against Venn on the same seed (ratio > 1: the rule is faster).

    python benchmarks/backoff_rules.py --scenarios paper/high-v1,paper/even-v1 --seeds 10000-10005 --workers 2
"""

from __future__ import annotations

import argparse

import numpy as np

from venn_gym.baselines import make_policy
from venn_gym.catalog import make_scenario
from venn_gym.experiments.oracle import OracleSchedule, OracleSettings, censored_mean_jct
from venn_gym.parallel import run_parallel
from venn_gym.seeds import SEEDS_HELP, parse_seeds
from venn_gym.simulation import Simulation

# name: (by, quantile, backoff in seconds)
RULES = {
    "size >= q50, 300 s": ("size", 0.5, 300.0),
    "size >= q75, 1200 s": ("size", 0.75, 1200.0),
    "size >= q75, 3600 s": ("size", 0.75, 3600.0),
    "size >= q90, 3600 s": ("size", 0.9, 3600.0),
    "participants >= q75, 1200 s": ("participants", 0.75, 1200.0),
}


def rule_settings(static, by: str, quantile: float, backoff_s: float) -> OracleSettings:
    """Venn, with the retries of the jobs at or above ``quantile`` of ``by`` held ``backoff_s``."""
    key = static.job_participants * static.job_rounds if by == "size" else static.job_participants
    settings = OracleSettings.venn(static.n_jobs, static.n_classes)
    settings.backoff_s[key >= np.quantile(key, quantile)] = backoff_s
    return settings


def ratios_on(task: tuple) -> tuple[str, int, dict[str, float]]:
    """Venn's censored mean JCT / each rule's, on one (scenario, seed)."""
    name, scale, seed = task
    scenario = make_scenario(name, seed=seed, scale=scale)
    static = Simulation(scenario, keep_rounds=False).static
    venn = censored_mean_jct(scenario, make_policy("venn"))
    return (
        name,
        seed,
        {
            rule: venn / censored_mean_jct(scenario, OracleSchedule(make_policy("venn"), rule_settings(static, *spec)))
            for rule, spec in RULES.items()
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default="paper/high-v1,paper/even-v1", help="comma-separated")
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--seeds", default="10000-10005", help=SEEDS_HELP)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    names = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    results = run_parallel(
        ratios_on, [(n, args.scale, s) for n in names for s in parse_seeds(args.seeds)], args.workers
    )
    print("| scenario | rule: hold failed rounds' retries of | mean ratio | min | max |")
    print("|---|---|---|---|---|")
    for name in names:
        for rule in RULES:
            r = np.array([ratios[rule] for n, _, ratios in results if n == name])
            print(f"| {name} | {rule} | {r.mean():.3f} | {r.min():.3f} | {r.max():.3f} |")


if __name__ == "__main__":
    main()
