"""Sweeps: (policies x scenarios x seeds) evaluations and (training seeds) trainings, as
independent tasks run in local processes (default) or on Ray (``pip install 'venn-gym[ray]'``).
Every task is a pure function of its arguments, so both backends give the same results.

    from venn_gym.experiments.sweep import Task, run_sweep
    tasks = grid(policies=["random", "venn", "agents/models/ppo_priority_low.zip"],
                 scenarios=["paper/low-v0"], seeds=[100, 101], options={"scale": 0.05})
    rows = run_sweep(tasks, backend="ray")          # or "local" (default), "serial"

    python -m venn_gym.experiments.sweep --policies random,venn --scenarios paper/low-v0 --seeds 100,101 --scale 0.02 \\
        --backend local --out runs/sweep.csv
"""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

from ..parallel import run_parallel
from ..seeds import SEEDS_HELP, parse_seeds


@dataclass(frozen=True)
class Task:
    """``kind="evaluate"``: run ``policy`` (baseline name or agent .zip) on (scenario, seed).
    ``kind="train"``: train ``policy`` = algo on ``env_id``/scenario with training seed ``seed`` into ``out``."""

    kind: str
    policy: str
    scenario: str
    seed: int
    options: tuple = ()
    env_id: str = ""
    timesteps: int = 0
    out: str = ""
    bc_warm_start: bool = False
    extra: tuple = field(default=())


def grid(policies: Sequence[str], scenarios: Sequence[str], seeds: Sequence[int], options: dict | None = None):
    opts = tuple(sorted((options or {}).items()))
    return [Task("evaluate", p, sc, int(s), opts) for sc in scenarios for s in seeds for p in policies]


def training_grid(
    algo: str,
    env_id: str,
    scenario: str,
    train_seeds: Sequence[int],
    timesteps: int,
    out: str,
    options: dict | None = None,
    bc_warm_start: bool = False,
):
    opts = tuple(sorted((options or {}).items()))
    return [
        Task(
            "train", algo, scenario, int(s), opts, env_id, timesteps, str(Path(out) / f"{algo}_seed{s}"), bc_warm_start
        )
        for s in train_seeds
    ]


def run_task(task: Task) -> dict:
    """One task -> one flat result row."""
    import torch

    torch.set_num_threads(1)
    opts = dict(task.options)
    if task.kind == "train":
        from ..agents.train import TrainConfig, train

        info = train(
            TrainConfig(
                algo=task.policy,
                out=Path(task.out),
                timesteps=task.timesteps,
                env_id=task.env_id,
                scenario=task.scenario,
                scale=opts.get("scale"),
                seed=task.seed,
                bc_warm_start=task.bc_warm_start,
                progress=False,
            )
        )
        return {
            **asdict(task),
            "model": str(Path(task.out) / "model.zip"),
            "timesteps_done": info["timesteps"],
            "wall_s": info["wall_s"],
        }
    if task.policy.endswith(".zip"):
        from .evaluate import run_agent

        run = run_agent(task.policy, task.scenario, task.options, task.seed)
    else:
        from .compare import RunSpec, execute

        run = execute(RunSpec(task.scenario, task.seed, task.policy, task.options))
    s = run.result.summary()
    return {
        **asdict(task),
        "mean_jct_s": s["mean_jct_s"],
        "unfinished_jobs": s["unfinished_jobs"],
        "wall_s": run.wall_s,
    }


def run_sweep(tasks: Sequence[Task], backend: str = "local", workers: int | None = None) -> list[dict]:
    """Rows in task order. ``backend``: ``serial``, ``local`` (processes) or ``ray``
    (connects to a running cluster with RAY_ADDRESS, else starts a local one)."""
    tasks = list(tasks)
    workers = workers or os.cpu_count() or 1
    if backend in ("serial", "local"):
        return run_parallel(run_task, tasks, 1 if backend == "serial" else workers)
    if backend == "ray":
        try:
            import ray
        except ImportError:
            from ..errors import SpecError

            raise SpecError("backend 'ray' needs Ray: pip install 'venn-gym[ray]'") from None
        started = not ray.is_initialized()
        if started:
            ray.init(num_cpus=workers, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
        try:
            remote = ray.remote(num_cpus=1)(run_task)
            return ray.get([remote.remote(t) for t in tasks])
        finally:
            if started:
                ray.shutdown()
    from ..errors import SpecError

    raise SpecError(f"unknown backend {backend!r}; expected serial, local or ray")


def main(argv: list[str] | None = None) -> int:
    import pandas as pd

    p = argparse.ArgumentParser(prog="python -m venn_gym.experiments.sweep", description=__doc__.split("\n\n")[0])
    p.add_argument("--policies", required=True, help="baseline names and/or agent .zip paths, comma-separated")
    p.add_argument("--scenarios", required=True)
    p.add_argument("--seeds", default="100-102", help=SEEDS_HELP)
    p.add_argument("--scale", type=float, default=None)
    p.add_argument("--backend", default="local", choices=["serial", "local", "ray"])
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--out", type=Path, default=None, help="CSV of the rows")
    args = p.parse_args(argv)
    tasks = grid(
        args.policies.split(","),
        args.scenarios.split(","),
        parse_seeds(args.seeds),
        {"scale": args.scale} if args.scale else {},
    )
    df = pd.DataFrame(run_sweep(tasks, args.backend, args.workers))
    print(df.groupby(["scenario", "policy"])["mean_jct_s"].mean().div(3600).round(2).to_string())
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(args.out, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
