"""Where a PPO training step's time goes: simulation, observation and action building (the env),
the policy network (torch), and Stable-Baselines3's own bookkeeping.

    python benchmarks/train_profile.py                          # priority env, paper/low-v1 x0.05, 8,192 steps
    python benchmarks/train_profile.py --steps 20000 --out /tmp/profile.md

PPO is built as ``venn-gym train`` builds it (the hyperparameter file's policy, network and
settings, one torch thread) and trained for ``--steps`` environment steps under cProfile; each
function's own time (not counting what it calls) is charged to the part of the stack its file
belongs to. The profiler slows Python-heavy parts more than numpy, numba or torch kernels, so the
shares are indicative; the steps per second are measured in a separate run without it, with the
envs stepped in ``--processes`` processes (the profiled run steps them all in this one: a profiler
sees one process).

    python benchmarks/train_profile.py --n-envs 16 --n-steps 512 --batch-size 2048 --n-epochs 1 --processes 2
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

from venn_gym.agents.config import PRIORITY_ENV, algorithm_class, load_hyperparams, resolve
from venn_gym.agents.train import build_vec_env
from venn_gym.outputs import machine_description, write_atomically

# The part of the stack a function belongs to, by the first pattern its file's path contains.
PARTS = (
    ("simulation (venn_gym core: event loop, matcher, scheduler view)", ("venn_gym/", "numba")),
    ("env: observations, actions, reward (venn_gym/envs, the agents' env wrappers)", ("venn_gym/envs/", "agents/")),
    ("policy network (torch, agents/networks.py)", ("torch", "agents/networks.py")),
    ("Stable-Baselines3 (rollout buffer, PPO update, VecEnv, Monitor)", ("stable_baselines3", "gymnasium")),
    ("numpy called from any of these", ("numpy",)),
)
ORDER = (
    "venn_gym/envs/",
    "agents/networks.py",
    "agents/",
    "venn_gym/",
    "torch",
    "stable_baselines3",
    "gymnasium",
    "numba",
    "numpy",
)


def part_of(filename: str) -> str:
    for pattern in ORDER:
        if pattern in filename:
            return next(name for name, patterns in PARTS if pattern in patterns)
    return "other (Python built-ins, interpreter)"


def build(scenario: str, scale: float, seed: int, n_envs: int | None, overrides: dict, processes: int = 1):
    import torch

    torch.set_num_threads(1)
    hp = load_hyperparams("ppo", PRIORITY_ENV)
    for key in ("bc", "checkpoint_freq"):
        hp.pop(key, None)
    if n_envs is not None:  # n_steps stays per env: a rollout grows with the envs
        hp["n_envs"] = n_envs
    hp.update(overrides)
    venv = build_vec_env(PRIORITY_ENV, scenario, scale, hp, seed, processes)
    policy, policy_kwargs, algo_kwargs = resolve(hp)
    return algorithm_class("ppo")(policy, venv, seed=seed, policy_kwargs=policy_kwargs, device="cpu", **algo_kwargs)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="paper/low-v1")
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--steps", type=int, default=8192, help="environment steps (whole rollouts of n_steps)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-envs", type=int, default=None, help="envs per rollout (default: the hyperparameter file's)")
    ap.add_argument("--n-steps", type=int, default=None, help="rollout steps per env (default: the file's)")
    ap.add_argument("--batch-size", type=int, default=None, help="PPO minibatch (default: the file's)")
    ap.add_argument("--n-epochs", type=int, default=None, help="PPO epochs per rollout (default: the file's)")
    ap.add_argument("--processes", type=int, default=1, help="processes stepping the envs (agents/vec_env.py)")
    ap.add_argument("--out", type=Path, default=None, help="also write the table (Markdown) here")
    args = ap.parse_args(argv)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())

    overrides = {
        key: value
        for key, value in (("n_steps", args.n_steps), ("batch_size", args.batch_size), ("n_epochs", args.n_epochs))
        if value is not None
    }
    model = build(args.scenario, args.scale, args.seed, args.n_envs, overrides, args.processes)
    start = time.perf_counter()
    model.learn(total_timesteps=args.steps)
    plain_s = time.perf_counter() - start
    steps = model.num_timesteps
    model.get_env().close()

    model = build(args.scenario, args.scale, args.seed, args.n_envs, overrides)
    profiler = cProfile.Profile()
    profiler.runcall(model.learn, total_timesteps=args.steps)
    stats = pstats.Stats(profiler).stats
    seconds: dict[str, float] = {}
    for (filename, _, name), (_, _, own_s, _, _) in stats.items():
        # A built-in (C) function has no file: its name says whose it is ("<built-in method torch.addmm>").
        part = part_of(name if filename == "~" else filename.replace("\\", "/"))
        seconds[part] = seconds.get(part, 0.0) + own_s
    total = sum(seconds.values())
    # The two phases of PPO, by cumulative time (what they call included).
    phases = {"collect_rollouts": 0.0, "train": 0.0}
    for (filename, _, name), (_, _, _, cumulative_s, _) in stats.items():
        if name in phases and "stable_baselines3" in filename:
            phases[name] += cumulative_s

    lines = [
        f"Produced by `python benchmarks/train_profile.py {' '.join(argv if argv is not None else sys.argv[1:])}` "
        f"on {machine_description()} (load average before: {load}); PPO on {PRIORITY_ENV}, {args.scenario} "
        f"x{args.scale}, seed {args.seed}, hyperparameters from agents/hyperparams/ppo.yml"
        + (f" with n_envs {args.n_envs}" if args.n_envs else "")
        + "".join(f", {key} {value}" for key, value in overrides.items())
        + ", one torch thread.",
        "",
        f"Without the profiler, envs stepped in {args.processes} process{'es' if args.processes > 1 else ''}: "
        f"{steps:,} env steps in {plain_s:.1f} s = {steps / plain_s:,.0f} env steps per second.",
        "",
        "| part of the stack | own time under cProfile (s) | share |",
        "|---|---|---|",
    ]
    for part, s in sorted(seconds.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {part} | {s:.1f} | {s / total:.0%} |")
    lines += [
        "",
        f"By phase (cumulative, under cProfile): collecting rollouts (env steps and the network's forward "
        f"passes) {phases['collect_rollouts']:.1f} s ({phases['collect_rollouts'] / total:.0%}); PPO's update "
        f"(epochs of minibatch gradient steps) {phases['train']:.1f} s ({phases['train'] / total:.0%}).",
    ]
    print("\n".join(lines))
    if args.out is not None:
        write_atomically(args.out, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
