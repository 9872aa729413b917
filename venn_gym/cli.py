"""The ``venn-gym`` command line."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from .errors import VennGymError
from .scenario import DEFAULT_SCENARIO, make_scenario, registered_scenarios


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except VennGymError as exc:
        print(f"venn-gym: error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="venn-gym", description=__doc__)
    sub = parser.add_subparsers(required=True, metavar="command")

    compare = sub.add_parser("compare", help="simulate policies over seeds of a scenario; print and write results")
    _scenario_args(compare)
    compare.add_argument("--policies", default="random,fifo,srsf,venn",
                         help="comma-separated policy names (see baselines.POLICIES); 'venn:e=1' sets options")
    compare.add_argument("--seeds", type=int, default=3, help="number of seeds (0..N-1)")
    compare.add_argument("--first-seed", type=int, default=0)
    compare.add_argument("--workers", type=int, default=None, help="parallel processes (default: CPU count)")
    compare.add_argument("--out", type=Path, default=None, help="folder for jobs.csv, summary.json and plots")
    compare.add_argument("--rounds", action="store_true", help="also write every round attempt to rounds.csv.gz")
    compare.set_defaults(handler=_compare)

    scenarios = sub.add_parser("scenarios", help="list, show or validate scenarios")
    scen_sub = scenarios.add_subparsers(required=True, metavar="action")
    scen_sub.add_parser("list", help="registered scenario names").set_defaults(handler=_scenarios_list)
    show = scen_sub.add_parser("show", help="describe a scenario built for a seed")
    _scenario_args(show)
    show.add_argument("--seed", type=int, default=0)
    show.set_defaults(handler=_scenarios_show)
    validate = scen_sub.add_parser("validate", help="check a scenario YAML/JSON file")
    validate.add_argument("path", type=Path)
    validate.set_defaults(handler=_scenarios_validate)

    bench = sub.add_parser("benchmark", help="simulation speed and memory per policy, and Venn decision time")
    _scenario_args(bench)
    bench.add_argument("--policies", default="random,fifo,srsf,venn")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--out", type=Path, default=None, help="write the figures as Markdown here")
    bench.set_defaults(handler=_benchmark)

    table = sub.add_parser("paper-table", help="reproduce the paper's Table 1 and ablation into results/")
    table.add_argument("--workloads", default="even,small,large,low,high")
    table.add_argument("--seeds", type=int, default=2)
    table.add_argument("--scale", type=float, default=1.0)
    table.add_argument("--workers", type=int, default=None)
    table.add_argument("--out", type=Path, default=Path("results"))
    table.add_argument("--version", type=int, default=1,
                       help="version of the paper scenarios to simulate (paper/<workload>-v<N>); default 1")
    table.add_argument("--tables-only", action="store_true",
                       help="re-render table1.md/.csv from OUT/table1-v<N>.json without simulating again")
    table.set_defaults(handler=_paper_table)

    train = sub.add_parser("train", help="train an SB3 agent (hyperparameters: agents/hyperparams/<algo>.yml)")
    train.add_argument("--algo", required=True, help="ppo, maskable_ppo, a2c or dqn")
    train.add_argument("--env", default="venn_gym/JobPriority-v0", help="venn_gym/JobPriority-v0 or venn_gym/DeviceAssign-v0")
    train.add_argument("--scenario", default=DEFAULT_SCENARIO)
    train.add_argument("--scale", type=float, default=None)
    train.add_argument("--timesteps", type=int, required=True, help="total environment steps (also when resuming)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", type=Path, required=True, help="folder for model.zip, checkpoints/, tb/, train_info.json")
    train.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    train.add_argument("--bc-warm-start", action="store_true",
                       help="behaviour-clone a baseline first (device env: venn; priority env: srsf-total)")
    train.add_argument("--hyperparams", type=Path, default=None, help="a YAML file instead of agents/hyperparams/<algo>.yml")
    train.add_argument("--checkpoint-freq", type=int, default=None, help="steps between checkpoints (default from the YAML)")
    train.add_argument("--no-progress", action="store_true")
    train.set_defaults(handler=_train)

    evaluate = sub.add_parser("evaluate", help="an agent against every baseline on held-out seeds (summary.json as compare)")
    evaluate.add_argument("--agent", required=True, help="model.zip from venn-gym train (comma-separated for several)")
    evaluate.add_argument("--scenario", default=DEFAULT_SCENARIO)
    evaluate.add_argument("--scale", type=float, default=None)
    evaluate.add_argument("--seeds", default="100,101,102,103,104", help="comma-separated held-out seeds (< 10000)")
    evaluate.add_argument("--policies", default="random,fifo,srsf,las,venn,venn-no-match", help="baselines to run too")
    evaluate.add_argument("--workers", type=int, default=None, help="parallel processes (default: CPU count)")
    evaluate.add_argument("--out", type=Path, default=None, help="folder for summary.json, summary.csv, breakdown.csv")
    evaluate.set_defaults(handler=_evaluate)

    board = sub.add_parser("leaderboard", help="regenerate results/leaderboard.{md,csv,png} from the shipped agents")
    board.add_argument("--out", type=Path, default=Path("results"))
    board.add_argument("--models", type=Path, default=None, help="folder of agent .zip files (default agents/models)")
    board.add_argument("--scenarios", default=None, help="comma-separated (default: even, low, high, res_intensive)")
    board.add_argument("--scale", type=float, default=0.05)
    board.add_argument("--seeds", default="100,101,102,103,104")
    board.add_argument("--workers", type=int, default=None)
    board.add_argument("--render-only", action="store_true",
                       help="rewrite the tables from the evaluations already in OUT/leaderboard/ (no simulation)")
    board.set_defaults(handler=_leaderboard)
    return parser


def _scenario_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", default=DEFAULT_SCENARIO, help=f"registered name or YAML/JSON file (default {DEFAULT_SCENARIO})")
    p.add_argument("--scale", type=float, default=None, help="shrink demand, rounds and devices together (paper scenarios)")
    p.add_argument("--n-jobs", type=int, default=None, help="number of jobs (paper scenarios)")
    p.add_argument("--horizon-days", type=float, default=None, help="stop at this simulated time; unfinished jobs are reported apart")


def _scenario_options(args) -> dict:
    options = {}
    if args.scale is not None:
        options["scale"] = args.scale
    if args.n_jobs is not None:
        options["n_jobs"] = args.n_jobs
    if args.horizon_days is not None:
        options["horizon_s"] = args.horizon_days * 86_400.0
    return options


def _command_line() -> str:
    return "venn-gym " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _compare(args) -> int:
    from tqdm import tqdm

    from baselines import make_policy

    from .compare import RunSpec, run_many, summarise, table_lines, write_outputs

    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    for name in policies:
        make_policy(name)  # fail on a bad name before any simulation starts
    options = tuple(sorted(_scenario_options(args).items()))
    make_scenario(args.scenario, seed=args.first_seed, **dict(options))  # validate the scenario up front
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    specs = [RunSpec(args.scenario, seed, policy, options, keep_rounds=args.rounds)
             for seed in seeds for policy in policies]
    workers = min(args.workers or os.cpu_count() or 1, len(specs))
    print(f"{args.scenario} {dict(options) or ''}: {len(policies)} policies x {args.seeds} seeds, {workers} worker(s)")
    with tqdm(total=len(specs), unit="run", dynamic_ncols=True) as bar:
        def done(run):
            bar.set_postfix_str(f"{run.spec.policy} seed {run.spec.seed}: {run.wall_s:.0f}s")
            bar.update()

        runs = run_many(specs, workers=workers, on_done=done)
    summary = summarise(runs)
    print("\n".join(table_lines(summary)))
    if args.out is not None:
        for path in write_outputs(runs, summary, args.out, _command_line()):
            print(f"wrote {path}")
    return 0


def _scenarios_list(args) -> int:
    for name, entry in registered_scenarios().items():
        print(f"{name:<28} {entry.description}")
    return 0


def _scenarios_show(args) -> int:
    from .requirements import evaluate, label

    scenario = make_scenario(args.scenario, seed=args.seed, **_scenario_options(args))
    pop, jobs = scenario.population, scenario.workload.jobs
    print(f"{scenario.name} (seed {scenario.seed}): {scenario.description}")
    print(f"devices: {len(pop)}; check-ins: {scenario.trace.mean_rate_per_s() * 86400:,.0f}/day; "
          f"speed tiers: {scenario.speed_tiers}; horizon: {scenario.horizon_s or 'none'}; "
          f"round deadlines count from: {scenario.round_deadline_from}")
    print(f"jobs: {len(jobs)}; total demand {sum(j.participants * j.rounds for j in jobs):,} device-tasks")
    for job in jobs:
        share = evaluate(job.requirement, pop.attributes, len(pop)).mean()
        print(f"  {job.name or '-':<12} t={job.arrival_s / 3600:7.2f}h  {label(job.requirement):<18} "
              f"eligible {share:5.1%}  {job.participants:>5} x {job.rounds:>5} rounds  deadline {job.deadline_s:g}s")
    return 0


def _scenarios_validate(args) -> int:
    from .scenario_files import validate_file

    problems = validate_file(args.path)
    for problem in problems:
        print(problem)
    print(f"{args.path}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


def _benchmark(args) -> int:
    from .benchmark import run_benchmark

    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    lines = run_benchmark(args.scenario, _scenario_options(args), policies, args.seed, print_line=print)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join([f"Produced by `{_command_line()}`.", "", *lines]) + "\n")
        print(f"wrote {args.out}")
    return 0


def _paper_table(args) -> int:
    from .paper_table import reproduce_table1, rewrite_tables

    if args.tables_only:
        rewrite_tables(args.out)
        return 0
    reproduce_table1(
        workloads=[w.strip() for w in args.workloads.split(",")],
        seeds=args.seeds,
        scale=args.scale,
        workers=args.workers or os.cpu_count() or 1,
        out=args.out,
        command=_command_line(),
        version=args.version,
    )
    return 0


def _train(args) -> int:
    from agents.train import train

    info = train(args.algo, args.env, args.scenario, args.scale, args.timesteps, args.seed, args.out,
                 resume=args.resume, bc_warm_start=args.bc_warm_start, hyperparams=args.hyperparams,
                 checkpoint_freq=args.checkpoint_freq, progress=not args.no_progress, command=_command_line())
    print(f"trained {info['timesteps']} steps in {info['wall_s']:.0f}s ({info['env_steps_per_s'] or 0:.0f} steps/s); "
          f"wrote {args.out / 'model.zip'}")
    return 0


def _seed_list(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        from .errors import SpecError

        raise SpecError(f"--seeds takes comma-separated integers, got {text!r}") from None


def _evaluate(args) -> int:
    from agents.evaluate import evaluate

    options = {} if args.scale is None else {"scale": args.scale}
    evaluate([Path(a) for a in args.agent.split(",") if a.strip()], args.scenario, options, _seed_list(args.seeds),
             policies=[p.strip() for p in args.policies.split(",") if p.strip()],
             workers=args.workers or os.cpu_count() or 1, out=args.out, command=_command_line(), print_line=print)
    return 0


def _leaderboard(args) -> int:
    from agents.leaderboard import DEFAULT_SCENARIOS, leaderboard

    scenarios = [s.strip() for s in args.scenarios.split(",")] if args.scenarios else list(DEFAULT_SCENARIOS)
    leaderboard(args.out, scenarios, args.scale, _seed_list(args.seeds), models=args.models,
                workers=args.workers or os.cpu_count() or 1, command=_command_line(), print_line=print,
                run=not args.render_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
