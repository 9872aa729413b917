"""The misuse catalogue of the reliability issue, run: each case is a malformed input, a misuse or a
fault a demanding user tried; the table says what venn_gym does with it now.

    python benchmarks/reliability.py --out results/reliability.md

Outcomes: ``clear error`` (a VennGymError that names the problem), ``warning`` (a ScenarioWarning,
then the run ends normally), ``runs`` (the input is legitimate and the run ends within its time
limit), and the failures ``traceback`` (any other exception), ``hang`` (past the case's time limit)
and ``silent`` (accepted although the case expects an error or a warning). Every case runs in its
own process, so that a hang or a crash cannot spoil the others.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "scenarios"
HOUR = 3600.0


# ---------------------------------------------------------------------------- builders
def population(n=3, **attributes):
    from venn_gym.devices import DevicePopulation

    return DevicePopulation(
        np.ones(n),
        np.full(n, 8.0),
        {"categories": np.full(n, 15, dtype=np.uint8), **attributes},
        source="catalogue devices",
    )


def trace(rows=None, period_s=86_400.0, **kwargs):
    from venn_gym.trace import TableTrace

    rows = rows or [(h * HOUR + d, h * HOUR + d + 600, d) for h in range(24) for d in range(3)]
    start, end, device = (np.array(c) for c in zip(*rows))
    return TableTrace(start=start.astype(float), end=end.astype(float), device=device, period_s=period_s, **kwargs)


def job(**changes):
    from venn_gym.jobs import JobSpec

    return JobSpec(
        **{
            **dict(
                arrival_s=0.0,
                requirement="general",
                participants=2,
                rounds=2,
                deadline_s=1000.0,
                workload_s=10.0,
                model_size_mb=1.0,
                name="j",
            ),
            **changes,
        }
    )


def scenario(jobs=None, pop=None, tr=None, **settings):
    from venn_gym.jobs import Workload
    from venn_gym.scenario import Scenario

    settings.setdefault("task_noise_log_sd", 0.0)
    return Scenario(
        name="catalogue/case-v0",
        seed=0,
        population=pop or population(),
        trace=tr or trace(),
        workload=Workload(tuple(jobs or [job()])),
        **settings,
    )


def run(sc, policy="venn"):
    from venn_gym.baselines import make_policy
    from venn_gym.policy import run_policy

    return run_policy(sc, make_policy(policy), keep_rounds=False)


def scenario_file(text: str, folder: Path, name="case.yaml") -> Path:
    for data in EXAMPLES.glob("*.csv"):
        shutil.copy(data, folder)
    path = folder / name
    path.write_text(text)
    return path


def load(text: str, folder: Path, **kwargs):
    from venn_gym.scenario_files import load_scenario_file

    return load_scenario_file(scenario_file(text, folder), **kwargs)


BASE_FILE = """name: catalogue/file-v0
devices: {csv: hand-devices.csv}
trace: {csv: hand-trace.csv, period_s: 3600}
workload:
  jobs:
    - {name: a, arrival_s: 0, requirement: general, participants: 2, rounds: 2, deadline_s: 600}
"""


def env_step(env_id, action, **kwargs):
    import gymnasium as gym

    import venn_gym  # noqa: F401

    env = gym.make(env_id, scenario="paper/low-v1", scenario_options={"scale": 0.02}, **kwargs)
    env.reset(seed=0)
    env.step(action)


def async_observations_in_box(folder):
    import gymnasium as gym

    from venn_gym.jobs import JobSpec

    jobs = [
        JobSpec(
            arrival_s=0.0,
            requirement="general",
            participants=2,
            rounds=20,
            deadline_s=1000.0,
            mode="async",
            buffer_size=1,
            name="async",
        )
    ]
    env = gym.make("venn_gym/DeviceAssign-v0", scenario=scenario(jobs, horizon_s=86_400.0)).unwrapped
    obs, info = env.reset(seed=0)
    done = False
    while not done:
        assert env.observation_space.contains(obs), "an observation left its space"
        obs, _, term, trunc, info = env.step(int(np.flatnonzero(info["action_mask"])[-1]))
        done = term or trunc


def pickle_in_scenario_file(folder):
    import pickle

    marker = folder / "ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    (folder / "capacity.pkl").write_bytes(pickle.dumps(Payload()))
    text = (
        "name: catalogue/pickle-v0\ndevices: {fedscale_capacity: capacity.pkl}\n"
        "trace: {csv: hand-trace.csv, period_s: 3600}\n"
        "workload: {jobs: [{arrival_s: 0, requirement: general, participants: 1, rounds: 1, deadline_s: 600}]}\n"
    )
    try:
        load(text, folder)
    finally:
        assert not marker.exists(), "the pickle's code ran"


def compare_into_used_folder(folder):
    from venn_gym.cli import main

    out = folder / "out"
    out.mkdir()
    (out / "old.csv").write_text("x\n")
    from venn_gym.errors import SpecError

    if (
        main(
            [
                "compare",
                "--scenario",
                "paper/low-v1",
                "--scale",
                "0.02",
                "--policies",
                "fifo",
                "--seeds",
                "1",
                "--out",
                str(out),
            ]
        )
        == 2
    ):
        raise SpecError("refused (exit code 2)")


def resume_another_run(folder):
    from venn_gym.agents.train import TrainConfig, train

    base = dict(
        algo="ppo", out=folder / "run", scale=0.02, timesteps=64, progress=False, hyperparams=tiny_hyperparams(folder)
    )
    train(TrainConfig(scenario="paper/low-v1", **base))
    train(TrainConfig(scenario="paper/high-v1", resume=True, **{**base, "timesteps": 128}))


def resume_truncated_checkpoint(folder):
    from venn_gym.agents.train import TrainConfig, checkpoints, train

    base = dict(
        algo="ppo",
        out=folder / "run",
        scenario="paper/low-v1",
        scale=0.02,
        progress=False,
        hyperparams=tiny_hyperparams(folder),
        checkpoint_freq=64,
    )
    train(TrainConfig(timesteps=128, **base))
    newest = checkpoints(folder / "run")[0][0]
    newest.write_bytes(newest.read_bytes()[:200])
    info = train(TrainConfig(timesteps=192, resume=True, **base))
    assert info["timesteps"] == 192


def tiny_hyperparams(folder):
    import yaml

    from venn_gym.agents.config import HYPERPARAMS_DIR, PRIORITY_ENV

    hp = yaml.safe_load((HYPERPARAMS_DIR / "ppo.yml").read_text())[PRIORITY_ENV]
    hp.update(n_steps=64, batch_size=32, n_epochs=1)
    path = folder / "ppo.yml"
    path.write_text(yaml.safe_dump({PRIORITY_ENV: hp}))
    return path


def nested_requirement(depth):
    req = "general"
    for _ in range(depth):
        req = {"not": req}
    return req


BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    + "name: *i\n"
)

# (class, case, expected outcome, function of a temporary folder)
CASES = [
    (
        "accepted inputs that hung",
        "a task of nearly zero time (workload_s 0, model_size_mb 1e-20)",
        "runs",
        lambda f: run(scenario([job(workload_s=0.0, model_size_mb=1e-20)])),
    ),
    (
        "accepted inputs that hung",
        "task_noise_log_sd 1000",
        "clear error",
        lambda f: run(scenario(task_noise_log_sd=1000.0)),
    ),
    (
        "accepted inputs that hung",
        "a table trace with period_s 1e-6",
        "clear error",
        lambda f: scenario(tr=trace([(0.0, 5e-7, 0)], period_s=1e-6)),
    ),
    ("accepted inputs that hung", "chunk_s 1e-3", "clear error", lambda f: scenario(tr=trace(chunk_s=1e-3))),
    (
        "accepted inputs that hung",
        "deadline_s 1e-9 (request timing)",
        "clear error",
        lambda f: run(scenario([job(deadline_s=1e-9)])),
    ),
    (
        "accepted inputs that hung",
        "a task longer than every check-in window",
        "clear error",
        lambda f: run(scenario([job(workload_s=5000.0, deadline_s=90_000.0)])),
    ),
    (
        "accepted inputs that hung",
        "the only eligible device never checks in",
        "clear error",
        lambda f: run(
            scenario(
                [job(requirement={"attr": "ram_gb", "op": ">=", "value": 8})],
                pop=population(ram_gb=np.array([8.0, 2, 2])),
                tr=trace([(0.0, 10.0, 1), (20.0, 30.0, 2)]),
            )
        ),
    ),
    ("accepted inputs that hung", "participants 1e12", "clear error", lambda f: scenario([job(participants=10**12)])),
    ("accepted inputs that hung", "arrival_s 1e300", "clear error", lambda f: scenario([job(arrival_s=1e300)])),
    ("accepted inputs that hung", "a billion-laughs YAML (1 KB of aliases)", "clear error", lambda f: load(BOMB, f)),
    ("accepted inputs that hung", "speed_tiers 1e9", "clear error", lambda f: scenario(speed_tiers=10**9)),
    (
        "accepted inputs that hung",
        "checkins_per_day 1e15",
        "clear error",
        lambda f: load(
            BASE_FILE.replace(
                "trace: {csv: hand-trace.csv, period_s: 3600}", "trace: {diurnal: {checkins_per_day: 1.0e+15}}"
            ),
            f,
        ),
    ),
    (
        "accepted inputs that hung",
        "n_devices 1e12",
        "clear error",
        lambda f: load(
            BASE_FILE.replace("devices: {csv: hand-devices.csv}", "devices: {synthetic: {n_devices: 1.0e+12}}"), f
        ),
    ),
    (
        "accepted inputs that hung",
        "a device id of 99999999999 in a trace",
        "clear error",
        lambda f: trace([(0.0, 10.0, 99_999_999_999)]),
    ),
    (
        "accepted inputs that hung",
        "max_jobs 1e8 in an env",
        "clear error",
        lambda f: env_step("venn_gym/JobPriority-v0", None, max_jobs=10**8),
    ),
    (
        "silently accepted or wrong",
        "3 eligible devices, 8 participants",
        "warning",
        lambda f: run(
            scenario([job(participants=8, rounds=1, deadline_s=86_400.0)], tr=trace(), round_deadline_from="dispatch")
        ),
    ),
    (
        "silently accepted or wrong",
        "3 eligible devices, 8 participants, device_once_per_round",
        "clear error",
        lambda f: scenario([job(participants=8, rounds=1)], tr=trace(), device_once_per_round=True),
    ),
    (
        "silently accepted or wrong",
        "overlapping windows of one device",
        "warning",
        lambda f: run(
            scenario(tr=trace([(0.0, 600.0, 0), (300.0, 900.0, 0), (0.0, 600.0, 1), (5.0, 600.0, 2)], period_s=3600.0))
        ),
    ),
    (
        "silently accepted or wrong",
        "duplicate trace rows",
        "warning",
        lambda f: run(scenario(tr=trace([(0.0, 600.0, 0), (0.0, 600.0, 0), (10.0, 600.0, 1)], period_s=3600.0))),
    ),
    ("silently accepted or wrong", "buffer_size on a sync job", "clear error", lambda f: job(buffer_size=5)),
    (
        "silently accepted or wrong",
        "async jobs in DeviceAssign-v0: observations inside their Box",
        "runs",
        async_observations_in_box,
    ),
    (
        "silently accepted or wrong",
        "window_log_sd 1e6",
        "clear error",
        lambda f: load(
            BASE_FILE.replace(
                "trace: {csv: hand-trace.csv, period_s: 3600}", "trace: {diurnal: {window_log_sd: 1.0e+6}}"
            ),
            f,
        ),
    ),
    (
        "tracebacks instead of errors",
        "a requirement nested 3,000 'not:' deep",
        "clear error",
        lambda f: job(requirement=nested_requirement(3000)),
    ),
    (
        "tracebacks instead of errors",
        "a ragged authors' client table",
        "clear error",
        lambda f: _authors_table(f, ",ID,start,end\n0,1,2,300\n1,2,4,500,6\n"),
    ),
    (
        "tracebacks instead of errors",
        "capacities of 1e308",
        "clear error",
        lambda f: _authors_table(f, ",ID,start,end\n0,1,2,300\n", computation=1e308),
    ),
    (
        "tracebacks instead of errors",
        "period_s='5' through the Python API",
        "clear error",
        lambda f: trace(period_s="5"),
    ),
    (
        "tracebacks instead of errors",
        "a string action",
        "clear error",
        lambda f: env_step("venn_gym/DeviceAssign-v0", "a"),
    ),
    (
        "tracebacks instead of errors",
        "max_jobs=nan",
        "clear error",
        lambda f: env_step("venn_gym/JobPriority-v0", None, max_jobs=float("nan")),
    ),
    (
        "tracebacks instead of errors",
        "max_jobs=2.7",
        "clear error",
        lambda f: env_step("venn_gym/JobPriority-v0", None, max_jobs=2.7),
    ),
    ("untrusted files", "a scenario file that points at a capacity pickle", "clear error", pickle_in_scenario_file),
    ("outputs and faults", "compare into a non-empty --out", "clear error", compare_into_used_folder),
    ("outputs and faults", "--resume in a folder holding another run", "clear error", resume_another_run),
    ("outputs and faults", "--resume with a truncated newest checkpoint", "runs", resume_truncated_checkpoint),
]


def _authors_table(folder, text, computation=50.0):
    from venn_gym.importers import read_venn_client_table

    (folder / "t.csv").write_text(text)
    (folder / "e.json").write_text(json.dumps([[1], [1, 2]]))
    (folder / "c.json").write_text(
        json.dumps(
            {"1": {"computation": computation, "communication": 1000}, "2": {"computation": 60, "communication": 2000}}
        )
    )
    return read_venn_client_table(folder / "t.csv", folder / "e.json", folder / "c.json")


# ---------------------------------------------------------------------------- running
def _attempt(index: int, queue) -> None:
    from venn_gym.errors import ScenarioWarning, VennGymError

    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            CASES[index][3](Path(folder))
            said = [str(w.message) for w in caught if issubclass(w.category, ScenarioWarning)]
            queue.put(("warning", said[0]) if said else ("runs", ""))
        except VennGymError as exc:
            queue.put(("clear error", str(exc)))
        except BaseException as exc:  # noqa: BLE001 (the catalogue records every other failure)
            queue.put(("traceback", f"{type(exc).__name__}: {exc}"))


def attempt(index: int, limit_s: float) -> tuple[str, str, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_attempt, args=(index, queue))
    started = time.perf_counter()
    process.start()
    process.join(limit_s)
    if process.is_alive():
        process.kill()
        return "hang", f"still running after {limit_s:.0f} s", time.perf_counter() - started
    outcome, said = queue.get() if not queue.empty() else ("traceback", f"exit code {process.exitcode}")
    return outcome, said, time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the report here (Markdown)")
    parser.add_argument("--limit-s", type=float, default=120.0, help="time limit per case")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    rows = []
    for index, (kind, case, expected, _) in enumerate(CASES):
        outcome, said, wall = attempt(index, args.limit_s)
        good = outcome == expected or (expected == "warning" and outcome == "clear error")
        rows.append(
            (kind, case, expected, outcome if good or outcome in ("traceback", "hang") else "silent", good, said, wall)
        )
        print(f"{'ok ' if good else 'BAD'} {case}: {outcome} ({wall:.1f} s) {said[:160]}", flush=True)
    from venn_gym.outputs import machine_description

    lines = [
        "# Reliability: the misuse catalogue",
        "",
        f"Produced by `python benchmarks/reliability.py{' --out ' + str(args.out) if args.out else ''}` on "
        f"{machine_description()}, {time.strftime('%Y-%m-%d')}; each case in its own process, "
        f"{args.limit_s:.0f} s limit. The cases are the reliability issue's examples, one or more per class.",
        "",
        "| class | cases | clear error | warning | runs (legitimate input) | traceback | hang | silent |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == kind]
        count = {
            o: sum(r[3] == o for r in mine) for o in ("clear error", "warning", "runs", "traceback", "hang", "silent")
        }
        lines.append(f"| {kind} | {len(mine)} | " + " | ".join(str(count[o]) for o in count) + " |")
    lines += ["", "| case | expected | outcome | seconds | what venn_gym says |", "|---|---|---|---|---|"]
    for kind, case, expected, outcome, good, said, wall in rows:
        text = said.replace("|", "\\|").replace("\n", " ")
        text = text if len(text) <= 240 else text[:237] + "..."
        lines.append(f"| {case} | {expected} | {outcome}{'' if good else ' (!)'} | {wall:.1f} | {text} |")
    lines += [
        "",
        "Beyond these examples, the test suite checks each class generally: `tests/test_generated.py` "
        "runs 1,000 generated scenarios (sync and async jobs, table and synthetic traces, both round "
        "timings, every policy) and 200 env episodes (both envs) per test run, checking that every run ends "
        "and the invariants hold; `tests/test_fuzz_scenario_files.py` loads and runs 1,000 mutations of the "
        "example scenario files, each of which must run or fail with a VennGymError; "
        "`VENN_GYM_PROPERTY_PROFILE=long python -m pytest tests/test_generated.py "
        "tests/test_fuzz_scenario_files.py` runs ten times as many. `tests/test_stuck.py` covers the stall "
        "detection, `tests/test_agents.py` the checkpoints and the run manifest.",
        "",
        "A device may serve one round more than once (it checks in again while the round is open) by "
        "default, as in the Venn authors' simulator, which the `-v1` scenarios reproduce (0.003-0.06 % of "
        "tasks at the paper's scales); a job that can fill its rounds only that way gets a ScenarioWarning. "
        "`device_once_per_round: true` applies deployed FL's rule (`tests/test_once_per_round.py`).",
    ]
    report = "\n".join(lines) + "\n"
    if args.out:
        from venn_gym.outputs import write_atomically

        write_atomically(args.out, report)
    else:
        print(report)
    return 0 if all(r[4] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
