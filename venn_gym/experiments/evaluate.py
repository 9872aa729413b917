"""Evaluate trained agents against every baseline on held-out seeds.

``venn-gym evaluate --agent runs/ppo/model.zip --scenario paper/high-v0 --scale 0.05 --seeds 100,101,102``

The agent runs in its own env (rebuilt from the ``venn_gym_meta`` stored in the
model), the baselines natively through :func:`venn_gym.experiments.compare.run_many` (identical
to running them in the env; tested in tests/test_envs.py). Output (``--out``):
``summary.json`` in the schema of ``venn-gym compare`` (each agent is one more
policy) plus 95 % t-intervals over seeds (``mean_jct_s_ci95``, ``speedup_vs_random_ci95``; JCTs here
are censored at the scenario's horizon, so that a policy that leaves jobs unfinished is not
credited with the short JCTs of the jobs it did finish),
the ratio paired against Venn on the same seeds (``paired_vs_venn``: mean over seeds of Venn's
mean JCT / the policy's, > 1: faster than Venn; with ``paired_vs_venn_ci95``; when Venn runs)
and the per-job-size / per-eligibility-category breakdown; ``summary.csv``,
``breakdown.csv``, ``jobs.csv`` and plots.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..agents.config import make_env
from ..agents.play import agent_name, load_agent, play_episode, training_record
from ..errors import SpecError
from ..metrics import censored_jct
from ..outputs import output_folder, write_atomically
from ..parallel import run_parallel
from ..suites import ROW_FIELDS, TRAIN_SEED_MIN, Suite
from .compare import RunSpec, TimedRun, options_text, run_many, summarise, write_outputs

log = logging.getLogger(__name__)

BASELINES = ("random", "random-order", "fifo", "srsf", "las", "venn", "venn-ref", "venn-no-match")


def t95(df: int) -> float:
    """The two-sided 95 % Student-t quantile with ``df`` degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(0.975, df)) if df >= 1 else float("nan")


def ci95(values: Sequence[float]) -> tuple[float, float]:
    """t-interval of the mean over seeds (a single value: a degenerate interval)."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if len(v) == 0:
        return (float("nan"), float("nan"))
    if len(v) == 1:
        return (float(v[0]), float(v[0]))
    half = t95(len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return (float(v.mean() - half), float(v.mean() + half))


def run_agent(path: str, scenario: str, options: tuple, seed: int, name: str | None = None) -> TimedRun:
    """One episode of the agent on (scenario, seed); a top-level function for worker processes."""
    import torch

    torch.set_num_threads(1)
    model, meta = load_agent(Path(path))
    name = name or agent_name(Path(path))
    env = make_env(
        meta["env_id"],
        scenario,
        dict(options).get("scale"),
        meta["env_kwargs"],
        residual=meta.get("residual"),
        knobs=meta.get("knobs"),
        holds=meta.get("holds"),
    )
    start = time.perf_counter()
    result = play_episode(model, env, seed, masked=meta["algo"] == "maskable_ppo").result(name)
    env.close()
    return TimedRun(RunSpec(scenario, int(seed), name, tuple(options)), result, time.perf_counter() - start)


def _run_agent_args(args) -> TimedRun:
    return run_agent(*args)


def run_agents(
    agents: Sequence[Path],
    scenario: str,
    options: dict,
    seeds: Sequence[int],
    workers: int = 1,
    on_done: Callable[[TimedRun], None] | None = None,
) -> list[TimedRun]:
    jobs = [(str(a), scenario, tuple(sorted(options.items())), int(s), agent_name(a)) for a in agents for s in seeds]
    return run_parallel(_run_agent_args, jobs, workers, on_done)


def paired_ratio(policies: dict, reference: str) -> dict[str, tuple[float, float, float]]:
    """Per policy of a summary's ``policies``: (mean, 95 % t-interval) over the seeds both ran of
    the reference's mean JCT / the policy's (> 1: faster than the reference). Pairing removes the
    seed-to-seed variance of the workload, which is larger than the differences between good
    policies. Empty when the reference did not run."""
    per_seed = {name: {s["seed"]: censored_jct(s) for s in p["per_seed"]} for name, p in policies.items()}
    base = per_seed.get(reference)
    if base is None:
        return {}
    paired = {}
    for name, jcts in per_seed.items():
        ratios = [base[seed] / jct for seed, jct in jcts.items() if seed in base and jct > 0]
        if ratios:
            paired[name] = (float(np.mean(ratios)), *ci95(ratios))
    return paired


def paired_vs_venn(policies: dict) -> dict[str, tuple[float, float, float]]:
    return paired_ratio(policies, "venn")


def add_intervals(summary: dict) -> dict:
    """95 % t-intervals over seeds of the mean JCT and of the speed-up over Random, and the
    ratio paired against Venn (in place)."""
    for p in summary["policies"].values():
        p["mean_jct_s_ci95"] = ci95([censored_jct(s) for s in p["per_seed"]])
        p["speedup_vs_random_ci95"] = ci95(
            [s.get("speedup_vs_random_censored", s["speedup_vs_random"]) for s in p["per_seed"]]
        )
    for name, (mean, lo, hi) in paired_vs_venn(summary["policies"]).items():
        summary["policies"][name].update(paired_vs_venn=mean, paired_vs_venn_ci95=(lo, hi))
    summary["interval"] = "95% Student-t interval over seeds"
    return summary


def breakdown(runs: Sequence[TimedRun]) -> list[dict]:
    """Per job size (small/large: participants x rounds below/at-or-above the median of the
    scenario's jobs) and per eligibility category (requirement label): mean JCT over
    the jobs of every seed, and speed-up over Random on the same jobs."""
    import pandas as pd

    jobs = pd.DataFrame([row for run in runs for row in run.result.job_rows()])
    jobs = jobs[jobs["finished"]]
    demand = jobs["participants"] * jobs["rounds"]
    median = float(np.median(demand[jobs["policy"] == jobs["policy"].iloc[0]]))
    jobs = jobs.assign(size=np.where(demand < median, "small", "large"))
    rows = []
    for kind, column in (("size", "size"), ("category", "requirement")):
        means = jobs.groupby(["policy", column])["jct_s"].agg(["mean", "count"]).reset_index()
        ref = means[means["policy"] == "random"].set_index(column)["mean"]
        for _, r in means.iterrows():
            base = ref.get(r[column])
            rows.append(
                {
                    "breakdown": kind,
                    "group": r[column],
                    "policy": r["policy"],
                    "jobs": int(r["count"]),
                    "mean_jct_h": r["mean"] / 3600.0,
                    "speedup_vs_random": (base / r["mean"]) if base is not None and r["mean"] > 0 else None,
                    "size_split_demand": median if kind == "size" else None,
                }
            )
    return rows


def summary_rows(summary: dict) -> list[dict]:
    rows = []
    paired = paired_vs_venn(summary["policies"])
    for name, p in summary["policies"].items():
        lo, hi = p["mean_jct_s_ci95"]
        slo, shi = p["speedup_vs_random_ci95"]
        vs_venn, vlo, vhi = paired.get(name, (None, None, None))
        rows.append(
            {
                "scenario": summary["scenario"],
                "policy": name,
                "seeds": len(p["per_seed"]),
                "mean_jct_h": censored_jct(p) / 3600,
                "mean_jct_h_ci95_lo": lo / 3600,
                "mean_jct_h_ci95_hi": hi / 3600,
                "speedup_vs_random": p.get("speedup_vs_random_censored", p["speedup_vs_random"]),
                "speedup_ci95_lo": slo,
                "speedup_ci95_hi": shi,
                "paired_vs_venn": vs_venn,
                "paired_vs_venn_ci95_lo": vlo,
                "paired_vs_venn_ci95_hi": vhi,
                "unfinished_jobs": p["unfinished_jobs"],
            }
        )
    return rows


def evaluation_lines(summary: dict) -> list[str]:
    """The printed evaluation table, with a line saying what its columns are."""
    options = options_text(summary["scenario_options"])
    head = f"{'policy':<28}{'mean JCT (h)':>14}{'95% CI':>18}{'vs random':>10}{'95% CI':>16}{'vs venn (paired)':>28}"
    lines = [f"{summary['scenario']} {options} seeds {','.join(map(str, summary['seeds']))}", head, "-" * len(head)]
    for r in summary_rows(summary):
        jct_ci = "[{:.2f}, {:.2f}]".format(r["mean_jct_h_ci95_lo"], r["mean_jct_h_ci95_hi"])
        sp_ci = "[{:.2f}, {:.2f}]".format(r["speedup_ci95_lo"], r["speedup_ci95_hi"])
        vs_venn = (
            ""
            if r["paired_vs_venn"] is None
            else "{:.3f} [{:.3f}, {:.3f}]".format(
                r["paired_vs_venn"], r["paired_vs_venn_ci95_lo"], r["paired_vs_venn_ci95_hi"]
            )
        )
        lines.append(
            f"{r['policy']:<28}{r['mean_jct_h']:>14.2f}{jct_ci:>18}{r['speedup_vs_random']:>9.2f}x"
            f"{sp_ci:>16}{vs_venn:>28}"
        )
    lines.append(
        "Mean JCT censored at the horizon (an unfinished job counts as ending there); intervals: 95 % "
        "Student-t over seeds. vs random: uniform Random's mean JCT / the policy's, per seed. vs venn "
        "(paired): Venn's mean JCT / the policy's on the same seed, averaged (> 1: faster than Venn)."
    )
    return lines


def evaluate(
    agents: Sequence[Path],
    scenario: str,
    options: dict,
    seeds: Sequence[int],
    policies: Sequence[str] = BASELINES,
    workers: int = 1,
    out: Path | None = None,
    command: str = "",
    progress: bool = False,
) -> dict:
    """Run agents and baselines on (scenario, seeds); returns the summary (written to ``out``;
    :func:`evaluation_lines` renders it). ``progress``: a bar over the runs (on stderr)."""
    from ..baselines import make_policy

    seeds = [int(s) for s in seeds]
    if not seeds:
        raise SpecError("no seeds to evaluate on")
    if any(s >= TRAIN_SEED_MIN for s in seeds):
        raise SpecError(f"evaluation seeds must be held out: below {TRAIN_SEED_MIN} (training uses seeds >= it)")
    for name in policies:
        make_policy(name)
    policies = list(dict.fromkeys(["random", *policies]))  # the speed-up reference always runs
    for a in agents:
        load_agent(Path(a))  # fail early on a bad file
    opts = tuple(sorted(options.items()))
    specs = [RunSpec(scenario, s, p, opts) for s in seeds for p in policies]
    from tqdm import tqdm

    with tqdm(
        total=len(specs) + len(agents) * len(seeds), unit="run", dynamic_ncols=True, disable=not progress, desc=scenario
    ) as bar:

        def done(run: TimedRun) -> None:
            bar.set_postfix_str(f"{run.spec.policy} seed {run.spec.seed}: {run.wall_s:.0f} s")
            bar.update()

        runs = run_many(specs, workers=min(workers, len(specs)), on_done=done)
        runs += run_agents(
            agents, scenario, options, seeds, workers=min(workers, len(agents) * len(seeds)), on_done=done
        )
    summary = add_intervals(summarise(runs))
    summary["breakdown"] = breakdown(runs)
    summary["agents"] = {agent_name(a): str(a) for a in agents}
    if out is not None:
        import pandas as pd

        with output_folder(Path(out), overwrite=True) as folder:  # complete, or the earlier one stays
            written = write_outputs(runs, summary, folder, command)
            pd.DataFrame(summary_rows(summary)).to_csv(folder / "summary.csv", index=False)
            pd.DataFrame(summary["breakdown"]).to_csv(folder / "breakdown.csv", index=False)
        log.info(
            "wrote %s",
            ", ".join(str(Path(out) / name) for name in [*(p.name for p in written), "summary.csv", "breakdown.csv"]),
        )
    summary["command"] = command
    return summary


def suite_scenario_dir(out: Path, scenario: str) -> Path:
    return Path(out) / scenario.replace("/", "_")


def evaluate_suite(
    agents: Sequence[Path],
    suite: Suite,
    policies: Sequence[str] = BASELINES,
    workers: int = 1,
    out: Path | None = None,
    command: str = "",
    progress: bool = False,
) -> list[dict]:
    """Every agent and baseline on each of the suite's test scenarios and seeds; returns the
    leaderboard rows (:data:`venn_gym.suites.ROW_FIELDS`), one per (policy, scenario). With ``out``:
    each scenario's evaluation in ``out/<scenario>/`` (the rows: :func:`write_rows`)."""
    rows = []
    for scenario in suite.scenarios:
        where = None if out is None else suite_scenario_dir(out, scenario)
        summary = evaluate(
            agents, scenario, suite.options, suite.test_seeds, policies, workers, where, command, progress
        )
        log.info("%s\n%s", suite.name, "\n".join(evaluation_lines(summary)))
        rows += suite_rows(suite, summary, agents, command)
    return rows


def write_rows(path: Path, rows: Sequence[dict]) -> Path:
    """Leaderboard rows as CSV, columns :data:`venn_gym.suites.ROW_FIELDS`, written whole."""
    import pandas as pd

    write_atomically(path, lambda tmp: pd.DataFrame(rows, columns=ROW_FIELDS).to_csv(tmp, index=False))
    return path


def suite_rows(suite: Suite, summary: dict, agents: Sequence[Path], command: str) -> list[dict]:
    """Leaderboard rows of one scenario's evaluation: the agents' with their model's hash and
    training record, the baselines' with those fields empty."""
    by_name = {agent_name(a): Path(a) for a in agents}
    rows = []
    for r in summary_rows(summary):
        model = by_name.get(r["policy"])
        record = training_record(model) if model is not None else {}
        rows.append(
            {
                "suite": suite.name,
                "scenario": r["scenario"],
                "policy": r["policy"],
                "model_sha256": hashlib.sha256(model.read_bytes()).hexdigest() if model is not None else "",
                "seeds": suite.seeds_text,
                "mean_jct_h": r["mean_jct_h"],
                "paired_vs_venn": r["paired_vs_venn"],
                "paired_vs_venn_ci95_lo": r["paired_vs_venn_ci95_lo"],
                "paired_vs_venn_ci95_hi": r["paired_vs_venn_ci95_hi"],
                "unfinished_jobs": r["unfinished_jobs"],
                "trained_on": f"{record['scenario']} x{record.get('scale')}" if record else "",
                "training_steps": record.get("timesteps", ""),
                "training_wall_s": record.get("wall_s", ""),
                "training_machine": record.get("machine", ""),
                "command": command,
            }
        )
    return rows
