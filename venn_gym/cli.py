"""The ``venn-gym`` command line."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shlex
import sys
from pathlib import Path

from .catalog import DEFAULT_SCENARIO, make_scenario, registered_scenarios
from .errors import SpecError, VennGymError
from .seeds import SEEDS_HELP, parse_seeds

SIMULATING_COMMANDS = {"_headroom", "_compare", "_benchmark", "_paper_table", "_train", "_evaluate", "_leaderboard"}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(format="venn-gym: %(message)s", level=logging.WARNING)
    # progress and notices (what training resumed, each benchmark run, files written) go to stderr
    logging.getLogger("venn_gym").setLevel(logging.INFO)
    if args.trust_pickles:  # through the environment, so that worker processes trust them too
        from .scenario_files import TRUST_PICKLES_VARIABLE

        os.environ[TRUST_PICKLES_VARIABLE] = "1"
    if args.handler.__name__ in SIMULATING_COMMANDS:
        from .matching import compiled_on_disk

        if not compiled_on_disk():
            print(
                "venn-gym: the first run here compiles the simulator's event loop, with each policy's "
                "(numba; 10-30 s per policy, once: it is cached on disk)",
                file=sys.stderr,
            )
    try:
        return args.handler(args)
    except VennGymError as exc:
        print(f"venn-gym: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"venn-gym: interrupted{f' ({exc})' if str(exc) else ''}", file=sys.stderr)
        return 130


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default (options without one say nothing)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """Every command's parser shows defaults (sub-commands are made with the same class)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="venn-gym",
        description="Simulate, compare and train schedulers of federated-learning "
        "jobs on a shared pool of edge devices.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument(
        "--trust-pickles",
        action="store_true",
        help="let scenario files load pickled data (capacity, eligibility, availability); unpickling "
        "runs the file's code, so only for files you trust (or convert them: convert-pickle)",
    )
    sub = parser.add_subparsers(required=True, metavar="command")

    compare = sub.add_parser("compare", help="simulate policies over seeds of a scenario; print and write results")
    _scenario_args(compare)
    compare.add_argument(
        "--policies",
        default="random,fifo,srsf,venn",
        help="comma-separated policy names ('venn-gym policies' lists them); 'venn:e=1' sets options",
    )
    compare.add_argument("--seeds", default="3", help=SEEDS_HELP)
    compare.add_argument("--first-seed", type=int, default=0, help="first seed of a count given to --seeds")
    compare.add_argument("--workers", type=int, default=None, help="parallel processes (default: CPU count)")
    compare.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for jobs.csv, summary.json and plots (written complete or not at all)",
    )
    compare.add_argument("--overwrite", action="store_true", help="replace the contents of a non-empty --out")
    compare.add_argument("--rounds", action="store_true", help="also write every round attempt to rounds.csv.gz")
    compare.set_defaults(handler=_compare)

    policies = sub.add_parser("policies", help="list the baseline policies and their options")
    policies.set_defaults(handler=_policies)

    scenarios = sub.add_parser("scenarios", help="list, show or validate scenarios")
    scen_sub = scenarios.add_subparsers(required=True, metavar="action")
    scen_sub.add_parser("list", help="registered scenario names").set_defaults(handler=_scenarios_list)
    show = scen_sub.add_parser("show", help="describe a scenario built for a seed")
    _scenario_args(show)
    show.add_argument("--seed", type=int, default=0, help="scenario seed (jobs and devices drawn from it)")
    show.set_defaults(handler=_scenarios_show)
    validate = scen_sub.add_parser("validate", help="check a scenario YAML/JSON file; report every problem")
    validate.add_argument("path", type=Path, help="the scenario or workload file")
    validate.set_defaults(handler=_scenarios_validate)
    schema = scen_sub.add_parser(
        "schema",
        help="print the JSON Schema of scenario files, or write it to FILE, for editors to check and complete them",
    )
    schema.add_argument("--out", type=Path, default=None, help="write the schema here instead of printing it")
    schema.set_defaults(handler=_scenarios_schema)

    convert = sub.add_parser(
        "convert-pickle",
        help="convert a pickled capacity, eligibility or availability file "
        "to JSON, which scenario files load without running code (this loads the pickle once)",
    )
    convert.add_argument("source", type=Path, help="the pickle (only one you trust: loading it runs its code)")
    convert.add_argument("dest", type=Path, help="the JSON file to write (ends in .json)")
    convert.set_defaults(handler=_convert_pickle)

    bench = sub.add_parser("benchmark", help="simulation speed and memory per policy, and Venn decision time")
    _scenario_args(bench)
    bench.add_argument("--policies", default="random,fifo,srsf,venn", help="comma-separated policy names")
    bench.add_argument("--seed", type=int, default=0, help="scenario seed")
    bench.add_argument("--out", type=Path, default=None, help="write the figures as Markdown here")
    bench.set_defaults(handler=_benchmark)

    room = sub.add_parser(
        "headroom",
        help="how far from a hindsight oracle and a lower bound Venn is, per scenario and seed "
        "(bound, oracle, Venn, SRSF, Randoms)",
    )
    room.add_argument("--scenarios", default="paper/even-v1,paper/low-v1,paper/high-v1", help="comma-separated")
    room.add_argument("--scale", type=float, default=0.05, help="scenario scale")
    room.add_argument("--seeds", default="100-101", help=SEEDS_HELP)
    room.add_argument("--budget", type=int, default=100, help="simulations the oracle's local search may run per seed")
    room.add_argument(
        "--futures",
        type=int,
        default=0,
        help="also score the oracle on this many re-drawn futures per seed (same jobs and devices, new "
        "check-ins, noise and draws; 0: none)",
    )
    room.add_argument(
        "--robust-budget",
        type=int,
        default=0,
        help="with --futures: also search a robust oracle with this many evaluations over --robust-futures "
        "other futures, scored on the held-out ones (0: none)",
    )
    room.add_argument("--robust-futures", type=int, default=3, help="futures the robust oracle's search averages")
    room.add_argument("--workers", type=int, default=1, help="parallel processes (one per scenario and seed)")
    room.add_argument("--out", type=Path, required=True, help="folder for headroom.md and headroom.json")
    room.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    room.set_defaults(handler=_headroom)

    table = sub.add_parser("paper-table", help="reproduce the paper's Table 1 and ablation into results/")
    table.add_argument("--workloads", default="even,small,large,low,high", help="comma-separated paper workloads")
    table.add_argument("--seeds", default="2", help="a count N: seeds 0..N-1")
    table.add_argument("--scale", type=float, default=1.0, help="shrink demand, rounds and devices together")
    table.add_argument("--workers", type=int, default=None, help="parallel processes (default: CPU count)")
    table.add_argument(
        "--overwrite", action="store_true", help="replace a record made with other seeds or scale (and its workloads)"
    )
    table.add_argument(
        "--out",
        type=Path,
        required=True,
        help="folder for table1-v<N>.json, table1.md/.csv and plots (the shipped ones: results)",
    )
    table.add_argument(
        "--version",
        type=int,
        default=1,
        help="version of the paper scenarios to simulate (paper/<workload>-v<N>); default 1",
    )
    table.add_argument(
        "--tables-only",
        action="store_true",
        help="re-render table1.md/.csv from OUT/table1-v<N>.json without simulating again",
    )
    table.set_defaults(handler=_paper_table)

    train = sub.add_parser(
        "train",
        help="train an SB3 agent (hyperparameters: agents/hyperparams/<algo>.yml)",
        description="Train an SB3 agent; each option is a field of venn_gym.agents.train.TrainConfig.",
    )
    train.add_argument("--algo", required=True, help="ppo, maskable_ppo, a2c or dqn")
    train.add_argument(
        "--env",
        dest="env_id",
        default="venn_gym/JobPriority-v0",
        help="venn_gym/JobPriority-v0 or venn_gym/DeviceAssign-v0",
    )
    train.add_argument("--scenario", default=DEFAULT_SCENARIO, help="registered name or YAML/JSON file")
    train.add_argument("--scale", type=float, default=None, help="shrink demand, rounds and devices together")
    train.add_argument(
        "--timesteps",
        type=int,
        required=True,
        help="total environment steps (also when resuming); rounded up to whole rollouts",
    )
    train.add_argument("--seed", type=int, default=0, help="training seed (scenario seeds are 10000 + ...)")
    train.add_argument(
        "--out", type=Path, required=True, help="folder for model.zip, run.json, train_info.json, checkpoints/, tb/"
    )
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its newest checkpoint")
    train.add_argument("--overwrite", action="store_true", help="clear a non-empty --out and start a fresh run there")
    train.add_argument(
        "--bc-warm-start",
        action="store_true",
        help="behaviour-clone a baseline first (device env: venn; priority env: srsf-total)",
    )
    train.add_argument(
        "--hyperparams", type=Path, default=None, help="a YAML file instead of agents/hyperparams/<algo>.yml"
    )
    train.add_argument(
        "--processes",
        type=int,
        default=1,
        help="processes stepping the envs, at most n_envs (2 on a 2-core machine); the same result for any number",
    )
    train.add_argument(
        "--checkpoint-freq", type=int, default=None, help="steps between checkpoints (default from the YAML)"
    )
    train.add_argument(
        "--eval-seeds",
        default="",
        help="held-out scenario seeds (below 10000) to evaluate on every --eval-freq steps, keeping "
        "best_model.zip; " + SEEDS_HELP,
    )
    train.add_argument("--eval-freq", type=int, default=10_000, help="steps between evaluations on --eval-seeds")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(handler=_train)

    evaluate = sub.add_parser(
        "evaluate", help="an agent against every baseline on held-out seeds (summary.json as compare)"
    )
    evaluate.add_argument("--agent", required=True, help="model.zip from venn-gym train (comma-separated for several)")
    evaluate.add_argument(
        "--suite",
        default=None,
        help="a benchmark suite (venn-gym suites): every test scenario and seed of it, one leaderboard row per "
        "(policy, scenario) in OUT/rows.csv; --scenario, --scale and --seeds then modify the suite",
    )
    evaluate.add_argument(
        "--scenario", default=None, help=f"registered name or YAML/JSON file (default {DEFAULT_SCENARIO})"
    )
    evaluate.add_argument("--scale", type=float, default=None, help="shrink demand, rounds and devices together")
    evaluate.add_argument("--seeds", default=None, help=SEEDS_HELP + "; held out: below 10000 (default 100-104)")
    evaluate.add_argument(
        "--policies",
        default="random,random-order,fifo,srsf,las,venn,venn-ref,venn-no-match",
        help="baselines to run too",
    )
    evaluate.add_argument("--workers", type=int, default=None, help="parallel processes (default: CPU count)")
    evaluate.add_argument("--out", type=Path, default=None, help="folder for summary.json, summary.csv, breakdown.csv")
    evaluate.set_defaults(handler=_evaluate)

    board = sub.add_parser("leaderboard", help="regenerate results/leaderboard.{md,csv,png} from the shipped agents")
    board.add_argument(
        "--out",
        type=Path,
        required=True,
        help="folder for leaderboard.md/.csv/.png and leaderboard/ (the shipped ones: results)",
    )
    board.add_argument("--models", type=Path, default=None, help="folder of agent .zip files (default agents/models)")
    board.add_argument("--suite", default="paper-v1", help="the benchmark suite whose test split it evaluates")
    board.add_argument("--scenarios", default=None, help="comma-separated: modify the suite's scenarios")
    board.add_argument("--scale", type=float, default=None, help="modify the suite's scale")
    board.add_argument("--seeds", default=None, help=SEEDS_HELP + "; modify the suite's test seeds (below 10000)")
    board.add_argument("--workers", type=int, default=None, help="parallel processes (default: CPU count)")
    board.add_argument(
        "--render-only",
        action="store_true",
        help="rewrite the tables from the evaluations already in OUT/leaderboard/ (no simulation)",
    )
    board.set_defaults(handler=_leaderboard)

    suites = sub.add_parser("suites", help="the benchmark suites: named train and test splits results can cite")
    suites.set_defaults(handler=_suites)
    return parser


def _scenario_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", default=DEFAULT_SCENARIO, help="registered name or YAML/JSON file")
    p.add_argument(
        "--scale", type=float, default=None, help="shrink demand, rounds and devices together (paper scenarios)"
    )
    p.add_argument("--n-jobs", type=int, default=None, help="number of jobs (paper scenarios)")
    p.add_argument(
        "--horizon-days",
        type=float,
        default=None,
        help="stop at this simulated time; unfinished jobs are reported apart",
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("venn-gym")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "(not installed)"


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

    from .baselines import make_policy
    from .experiments.compare import RunSpec, options_text, run_many, summarise, table_lines, write_outputs
    from .outputs import output_folder
    from .parallel import Interrupted

    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    for name in policies:
        make_policy(name)  # fail on a bad name before any simulation starts
    options = tuple(sorted(_scenario_options(args).items()))
    seeds = parse_seeds(args.seeds, args.first_seed)
    scenario = make_scenario(args.scenario, seed=seeds[0], **dict(options))  # validate the scenario up front
    specs = [
        RunSpec(args.scenario, seed, policy, options, keep_rounds=args.rounds) for seed in seeds for policy in policies
    ]
    workers = min(args.workers or os.cpu_count() or 1, len(specs))
    label = " ".join(filter(None, [args.scenario, options_text(dict(options))]))
    print(f"{label}: {len(policies)} policies x {len(seeds)} seeds, {workers} worker(s)")
    n_jobs = len(scenario.workload.jobs)
    # The bar counts jobs ended over all runs (a finished run counts all its jobs); the text
    # names each run under way and its simulated day.
    ended = [0] * len(specs)
    under_way: dict[int, str] = {}
    with (
        output_folder(args.out, args.overwrite) if args.out is not None else contextlib.nullcontext() as folder,
        tqdm(total=len(specs) * n_jobs, unit="job", dynamic_ncols=True) as bar,
    ):

        def show() -> None:
            bar.n = sum(ended)
            bar.set_postfix_str(", ".join(under_way.values()) or "", refresh=False)
            bar.refresh()

        def progress(index, simulated_s, jobs_ended, jobs):
            ended[index] = min(jobs_ended, n_jobs)
            spec = specs[index]
            under_way[index] = f"{spec.policy} s{spec.seed} day {simulated_s / 86_400:.0f}"
            show()

        def done(run):
            index = specs.index(run.spec)
            ended[index] = n_jobs
            under_way.pop(index, None)
            show()

        try:
            runs, interrupted = run_many(specs, workers=workers, on_done=done, on_progress=progress), None
        except Interrupted as stop:
            runs, interrupted = stop.finished, stop
        bar.close()
        if interrupted:
            print(f"\nCtrl-C: {interrupted}; the summary covers those runs only")
            if not runs:
                raise interrupted
        summary = summarise(runs)
        if interrupted:
            summary["partial"] = f"{interrupted}: {', '.join(f'{r.spec.policy} seed {r.spec.seed}' for r in runs)}"
        print("\n".join(table_lines(summary)))
        if folder is not None:
            written = write_outputs(runs, summary, folder, _command_line())
    if args.out is not None:
        for path in written:
            print(f"wrote {args.out / path.name}")
    return 130 if interrupted else 0


def _policies(args) -> int:
    from .baselines import describe_policies

    for line in describe_policies():
        print(line)
    return 0


def _scenarios_list(args) -> int:
    from .scenario_files import discovery_problems, scenario_folders

    scenarios = registered_scenarios()
    for name, entry in scenarios.items():
        print(f"{name:<28} {entry.description} [{entry.source}]")
    print(
        f"\n{len(scenarios)} scenarios. Scenario folders searched: "
        f"{', '.join(str(f) for f in scenario_folders()) or 'none'} (set VENN_GYM_SCENARIO_PATH); packages "
        "add theirs through the 'venn_gym.scenarios' entry-point group."
    )
    for problem in discovery_problems:
        print(f"not registered: {problem}")
    return 0


def _scenarios_show(args) -> int:
    from .requirements import evaluate, label

    scenario = make_scenario(args.scenario, seed=args.seed, **_scenario_options(args))
    pop, jobs = scenario.population, scenario.workload.jobs
    print(f"{scenario.name} (seed {scenario.seed}): {scenario.description}")
    print(
        f"devices: {len(pop)}; check-ins: {scenario.trace.mean_rate_per_s() * 86400:,.0f}/day; "
        f"speed tiers: {scenario.speed_tiers}; horizon: {_days(scenario.horizon_s)}; "
        f"round deadlines count from: {scenario.round_deadline_from}"
        + ("; a device serves a round at most once" if scenario.device_once_per_round else "")
    )
    print(f"jobs: {len(jobs)}; total demand {sum(j.participants * j.rounds for j in jobs):,} device-tasks")
    print(
        f"  {'name':<12} {'arrival (h)':>11}  {'requirement':<18} {'eligible':>8}  {'participants':>12} "
        f"{'rounds':>6}  {'deadline (s)':>12}  mode"
    )
    for job in jobs:
        share = evaluate(job.requirement, pop.attributes, len(pop)).mean()
        mode = job.mode if job.mode == "sync" else f"{job.mode} (buffer {job.buffer_size})"
        print(
            f"  {job.name or '-':<12} {job.arrival_s / 3600:>11.2f}  {label(job.requirement):<18} {share:>8.1%}  "
            f"{job.participants:>12} {job.rounds:>6}  {job.deadline_s:>12g}  {mode}"
        )
    return 0


def _scenarios_validate(args) -> int:
    import warnings

    from .errors import ScenarioWarning
    from .scenario_files import validate_file

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ScenarioWarning)
        problems = validate_file(args.path)
        checked = "" if problems else _checked_text(args.path)
    for problem in problems:
        print(problem)
    for message in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, ScenarioWarning)):
        print(f"warning: {message}")
    if problems:
        print(f"{args.path}: {len(problems)} problem(s)")
        return 1
    print(f"{args.path}: OK. {checked}")
    return 0


def _days(horizon_s: float | None) -> str:
    return f"{horizon_s / 86_400:g} days" if horizon_s else "none"


def _checked_text(path: Path) -> str:
    """What a valid file holds (for seed 0), so that 'OK' says what was checked."""
    from .scenario_files import load_scenario_file

    try:
        scenario = load_scenario_file(path, seed=0)
    except VennGymError:  # a workload file: its jobs were checked
        return "A workload file: every job was checked."
    horizon = _days(scenario.horizon_s)
    return (
        f"Built for seed 0: {len(scenario.workload.jobs)} jobs, each with eligible devices that check in; "
        f"{len(scenario.population):,} devices; {scenario.trace.mean_rate_per_s() * 86_400:,.0f} check-ins/day; "
        f"horizon {horizon}; round deadlines from {scenario.round_deadline_from}"
        + ("; a device serves a round at most once." if scenario.device_once_per_round else ".")
    )


def _scenarios_schema(args) -> int:
    from .outputs import write_atomically
    from .scenario_schema import scenario_schema_text

    text = scenario_schema_text()
    if args.out is None:
        sys.stdout.write(text)
    else:
        print(f"wrote {write_atomically(args.out, text)}")
    return 0


def _convert_pickle(args) -> int:
    from .importers import pickle_to_json

    print(f"wrote {pickle_to_json(args.source, args.dest)}")
    return 0


def _benchmark(args) -> int:
    from .experiments.benchmark import run_benchmark
    from .outputs import write_atomically

    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    lines = run_benchmark(args.scenario, _scenario_options(args), policies, args.seed)
    print("\n".join(lines))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(args.out, "\n".join([f"Produced by `{_command_line()}`.", "", *lines]) + "\n")
        print(f"wrote {args.out}")
    return 0


def _paper_table(args) -> int:
    from .experiments.paper_table import reproduce_table1, rewrite_tables

    if args.tables_only:
        rewrite_tables(args.out)
        return 0
    seeds = parse_seeds(args.seeds)
    if seeds != list(range(len(seeds))):
        from .errors import SpecError

        raise SpecError(f"paper-table runs seeds 0..N-1: give --seeds a count, got {args.seeds!r}")
    reproduce_table1(
        workloads=[w.strip() for w in args.workloads.split(",")],
        seeds=len(seeds),
        scale=args.scale,
        workers=args.workers or os.cpu_count() or 1,
        out=args.out,
        command=_command_line(),
        version=args.version,
        overwrite=args.overwrite,
    )
    return 0


def _train(args) -> int:
    from .agents.train import TrainConfig, train

    config = TrainConfig(
        algo=args.algo,
        out=args.out,
        timesteps=args.timesteps,
        env_id=args.env_id,
        scenario=args.scenario,
        scale=args.scale,
        seed=args.seed,
        hyperparams=args.hyperparams,
        bc_warm_start=args.bc_warm_start,
        checkpoint_freq=args.checkpoint_freq,
        eval_seeds=tuple(parse_seeds(args.eval_seeds)) if args.eval_seeds else (),
        eval_freq=args.eval_freq,
        resume=args.resume,
        overwrite=args.overwrite,
        processes=args.processes,
        progress=not args.no_progress,
        command=_command_line(),
    )
    info = train(config)
    rounded = (
        f" ({args.timesteps:,} asked for; PPO-style algorithms train in whole rollouts of n_steps x n_envs)"
        if info["timesteps"] != args.timesteps
        else ""
    )
    print(
        f"trained {info['timesteps']:,} steps{rounded} in {info['wall_s']:.0f} s "
        f"({info['env_steps_per_s'] or 0:.0f} steps/s)"
    )
    written = [
        args.out / name
        for name in (
            "model.zip",
            "best_model.zip",
            "evaluations.csv",
            "vecnormalize.pkl",
            "run.json",
            "train_info.json",
            "checkpoints",
        )
    ]
    print("wrote " + ", ".join(str(p) for p in written if p.exists()))
    if info.get("tensorboard"):
        print(f"curves: tensorboard --logdir {info['tensorboard']}")
    return 0


def _evaluate(args) -> int:
    from .experiments.evaluate import evaluate, evaluate_suite, evaluation_lines, write_rows

    agents = [Path(a) for a in args.agent.split(",") if a.strip()]
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    workers = args.workers or os.cpu_count() or 1
    if args.suite is not None:
        suite = _suite(args, [args.scenario] if args.scenario else None)
        rows = evaluate_suite(agents, suite, policies, workers, args.out, _command_line(), progress=True)
        if args.out is not None:
            write_rows(args.out / "rows.csv", rows)
        _print_rows(rows)
        return 0
    options = {} if args.scale is None else {"scale": args.scale}
    summary = evaluate(
        agents,
        args.scenario or DEFAULT_SCENARIO,
        options,
        parse_seeds(args.seeds or "100-104"),
        policies=policies,
        workers=workers,
        out=args.out,
        command=_command_line(),
        progress=True,
    )
    print("\n".join(evaluation_lines(summary)))
    return 0


def _suite(args, scenarios):
    """The suite named by --suite, modified by --scenario(s), --scale and --seeds where given."""
    from .suites import get_suite

    return get_suite(args.suite).modified(
        scenarios=scenarios,
        scale=args.scale,
        test_seeds=parse_seeds(args.seeds) if args.seeds else None,
    )


def _print_rows(rows: list[dict]) -> None:
    print(f"suite {rows[0]['suite']} (rows written to rows.csv with --out)" if rows else "no rows")
    print(f"{'scenario':<26}{'policy':<28}{'mean JCT (h)':>13}{'vs venn (paired), 95% CI':>34}")
    for r in rows:
        paired = (
            ""
            if r["paired_vs_venn"] is None
            else f"{r['paired_vs_venn']:.3f} [{r['paired_vs_venn_ci95_lo']:.3f}, {r['paired_vs_venn_ci95_hi']:.3f}]"
        )
        print(f"{r['scenario']:<26}{r['policy']:<28}{r['mean_jct_h']:>13.2f}{paired:>34}")


def _suites(args) -> int:
    from .suites import SUITES, TRAIN_SEED_MIN

    for suite in SUITES.values():
        print(f"{suite.name}: {suite.description}")
        print(f"  scenarios: {', '.join(suite.scenarios)} at scale {suite.scale:g}")
        print(
            f"  train: scenario seeds >= {TRAIN_SEED_MIN} (venn-gym train draws them); test seeds: {suite.seeds_text}"
        )
    return 0


def _headroom(args) -> int:
    from .experiments.headroom import FutureOptions, headroom
    from .outputs import machine_description

    if args.budget < 1:
        raise SpecError(f"--budget must be >= 1, got {args.budget}")
    for flag, value in (("--futures", args.futures), ("--robust-budget", args.robust_budget)):
        if value < 0:
            raise SpecError(f"{flag} must be >= 0, got {value}")
    if args.robust_futures < 1:
        raise SpecError(f"--robust-futures must be >= 1, got {args.robust_futures}")
    if args.robust_budget and not args.futures:
        raise SpecError("--robust-budget scores the robust oracle on held-out futures: give --futures too")
    if args.workers < 1:
        raise SpecError(f"--workers must be >= 1, got {args.workers}")
    headroom(
        [s.strip() for s in args.scenarios.split(",") if s.strip()],
        {"scale": args.scale},
        parse_seeds(args.seeds),
        args.budget,
        args.out,
        _command_line(),
        machine_description(),
        overwrite=args.overwrite,
        beyond=FutureOptions(args.futures, args.robust_budget, args.robust_futures),
        workers=args.workers,
    )
    print(f"wrote {args.out / 'headroom.md'}, {args.out / 'headroom.json'}")
    return 0


def _leaderboard(args) -> int:
    from .experiments.leaderboard import leaderboard

    scenarios = [x.strip() for x in args.scenarios.split(",") if x.strip()] if args.scenarios else None
    leaderboard(
        args.out,
        _suite(args, scenarios),
        models=args.models,
        workers=args.workers or os.cpu_count() or 1,
        command=_command_line(),
        run=not args.render_only,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
