"""Steps per second of the Gymnasium environments (single process).

    python benchmarks/env_speed.py                       # paper/even-v0 at scale 0.05
    python benchmarks/env_speed.py --steps 50000 --full  # + one full-scale Even episode, SRSF in JobPriority-v0

For each env: random legal actions (masked for DeviceAssign-v0) and a baseline
agent (PolicyAgent); the simulator alone (native run_policy) for reference.
"""

from __future__ import annotations

import argparse
import builtins
import os
import sys
import time
from pathlib import Path

import numpy as np

import venn_gym
from venn_gym.baselines import make_policy
from venn_gym.envs import DeviceAssignEnv, JobPriorityEnv, PolicyAgent
from venn_gym.outputs import machine_description


def run_steps(env, steps: int, seed: int, agent=None) -> tuple[int, float]:
    rng = np.random.default_rng(seed)
    # Random draws made up front: the figure is the env's speed, not the random generator's.
    uniforms = rng.random(steps)
    box_actions = (
        rng.uniform(-1.0, 1.0, (steps, *env.action_space.shape)).astype(np.float32)
        if isinstance(env, JobPriorityEnv)
        else None
    )
    obs, info = env.reset(seed=seed)
    t0 = time.perf_counter()
    for i in range(steps):
        if agent is not None:
            action = agent.act(obs, info)
        elif box_actions is None:
            legal = np.flatnonzero(info["action_mask"])
            action = int(legal[int(uniforms[i] * len(legal))])
        else:
            action = box_actions[i]
        obs, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            obs, info = env.reset()
    return steps, time.perf_counter() - t0


def engine_checkins(scenario, steps: int) -> tuple[int, float]:
    """The simulator alone, driven as DeviceAssign-v0 drives it (zero scores, a decision per
    check-in with a choice, first candidate): the ceiling for the device env's speed."""
    sim = venn_gym.Simulation(scenario, keep_rounds=False)
    sim.set_scores(np.zeros(sim.static.n_jobs))
    n = 0
    t0 = time.perf_counter()
    while n < steps:
        events = sim.advance(stop_at_choices=1)
        if sim.done:
            sim = venn_gym.Simulation(scenario, keep_rounds=False)
            sim.set_scores(np.zeros(sim.static.n_jobs))
            continue
        if not events:
            sim.decide(int(sim.pending_checkin.candidates[0]))
            n += 1
    return n, time.perf_counter() - t0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="paper/even-v0")
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=20_000, help="device-env steps per measurement")
    ap.add_argument("--priority-steps", type=int, default=3_000, help="priority-env steps per measurement")
    ap.add_argument("--policy", default="srsf", help="baseline for the agent runs")
    ap.add_argument("--full", action="store_true", help="also time one full-scale episode (JobPriority-v0, policy)")
    ap.add_argument("--full-scenario", default="paper/even-v0")
    ap.add_argument("--out", type=Path, default=None, help="also write the figures (Markdown) here")
    args = ap.parse_args(argv)
    lines = []

    def print(line):  # noqa: A001 - every figure goes to stdout and, with --out, to the file
        builtins.print(line, flush=True)
        lines.append(line)

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"Produced by `python benchmarks/env_speed.py {' '.join(argv if argv is not None else sys.argv[1:])}` "
        f"on {machine_description()} (load average before: {load})."
    )
    options = {"scale": args.scale}
    print(f"scenario {args.scenario} scale {args.scale} seed {args.seed}")

    scenario = venn_gym.make_scenario(args.scenario, seed=args.seed, **options)
    venn_gym.run_policy(scenario, make_policy(args.policy), keep_rounds=False)  # untimed: compiles, if not cached
    t0 = time.perf_counter()
    venn_gym.run_policy(scenario, make_policy(args.policy), keep_rounds=False)
    print(f"  native run_policy({args.policy}), whole episode: {time.perf_counter() - t0:.2f} s")
    engine_checkins(scenario, 100)  # untimed: compiles what numba has not cached (a cold cache)
    n, dt = engine_checkins(scenario, args.steps)
    print(f"  {'simulator alone':25s} {n / dt:10,.0f} check-in decisions/s (the device env's ceiling)")

    for cls, steps in ((DeviceAssignEnv, args.steps), (JobPriorityEnv, args.priority_steps)):
        for label in ("random", args.policy):
            env = cls(scenario=args.scenario, scenario_options=options)
            agent = PolicyAgent(make_policy(args.policy), env) if label != "random" else None
            run_steps(env, 50, args.seed, agent)  # untimed, as above
            n, dt = run_steps(env, steps, args.seed, agent)
            print(f"  {cls._name + ' ' + label:25s} {n / dt:10,.0f} steps/s  ({n} steps, {dt:.2f} s)")

    if args.full:
        env = JobPriorityEnv(scenario=args.full_scenario)
        agent = PolicyAgent(make_policy(args.policy), env)
        t0 = time.perf_counter()
        obs, info = env.reset(seed=args.seed)
        steps = 0
        while True:
            obs, _, terminated, truncated, info = env.step(agent.act(obs, info))
            steps += 1
            if terminated or truncated:
                break
        env_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        native = venn_gym.run_policy(
            venn_gym.make_scenario(args.full_scenario, seed=args.seed), make_policy(args.policy), keep_rounds=False
        )
        native_s = time.perf_counter() - t0
        same = np.array_equal(info["jcts_s"], [j.jct_s for j in native.jobs])
        print(
            f"  full-scale {args.full_scenario}, JobPriority-v0 + {args.policy}: {env_s:.1f} s, {steps} steps, "
            f"mean JCT {info['summary']['mean_jct_s'] / 3600:.1f} h; native run_policy {native_s:.1f} s; "
            f"identical JCTs: {same}"
        )

    if args.out is not None:
        args.out.write_text("\n".join(["```", *lines, "```"]) + "\n")


if __name__ == "__main__":
    main()
