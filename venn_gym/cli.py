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
    table.set_defaults(handler=_paper_table)
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
          f"speed tiers: {scenario.speed_tiers}; horizon: {scenario.horizon_s or 'none'}")
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
    from .paper_table import reproduce_table1

    reproduce_table1(
        workloads=[w.strip() for w in args.workloads.split(",")],
        seeds=args.seeds,
        scale=args.scale,
        workers=args.workers or os.cpu_count() or 1,
        out=args.out,
        command=_command_line(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
