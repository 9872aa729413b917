"""SB3 agents (agents/): training with each algorithm, resume, behaviour cloning,
evaluation against the baselines, the shipped models, sweeps and bad inputs.
Everything runs on paper/low-v0 at scale 0.02 (50 jobs, a few seconds per episode)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

pytest.importorskip("stable_baselines3")

from venn_gym.agents.config import ALGOS, DEVICE_ENV, HYPERPARAMS_DIR, PRIORITY_ENV, load_hyperparams  # noqa: E402
from venn_gym.agents.play import load_agent, shipped_models  # noqa: E402
from venn_gym.agents.teachers import RemainingServicePolicy, make_teacher  # noqa: E402
from venn_gym.agents.train import TrainConfig, checkpoints, latest_checkpoint, train  # noqa: E402
from venn_gym.cli import main as cli  # noqa: E402
from venn_gym.errors import IllegalActionError, SpecError, VennGymError  # noqa: E402
from venn_gym.experiments.evaluate import ci95, evaluate, run_agent  # noqa: E402
from venn_gym.suites import ROW_FIELDS, get_suite  # noqa: E402

SCENARIO, SCALE = "paper/low-v0", 0.02
ALGO_ENVS = [("ppo", PRIORITY_ENV), ("maskable_ppo", DEVICE_ENV), ("a2c", PRIORITY_ENV), ("dqn", DEVICE_ENV)]


def train_run(algo: str, env_id: str, timesteps: int, out: Path, **settings) -> dict:
    """Train on the tests' scenario and scale, seed 0."""
    return train(
        TrainConfig(
            algo=algo, env_id=env_id, scenario=SCENARIO, scale=SCALE, timesteps=timesteps, out=Path(out), **settings
        )
    )


def tiny_hyperparams(tmp_path: Path, algo: str, env_id: str, source: str | None = None) -> Path:
    """The shipped YAML entry (``source``: file name, default ``<algo>.yml``) with small rollouts,
    so that a test trains in seconds."""
    table = yaml.safe_load((HYPERPARAMS_DIR / (source or f"{algo}.yml")).read_text())
    hp = table[env_id]
    if algo in ("ppo", "maskable_ppo"):
        hp.update(n_steps=64, batch_size=32, n_epochs=1)
    elif algo == "a2c":
        hp.update(n_steps=8)
    else:
        hp.update(learning_starts=50, buffer_size=1000, batch_size=16)
    hp["bc"] = {"episodes": 1, "epochs": 8}
    path = tmp_path / f"{algo}.yml"
    path.write_text(yaml.safe_dump({env_id: hp}))
    return path


@pytest.mark.parametrize("algo,env_id", ALGO_ENVS)
def test_train_each_algo_writes_model_and_checkpoints(tmp_path, algo, env_id):
    out = tmp_path / "run"
    info = train_run(
        algo, env_id, 192, out, hyperparams=tiny_hyperparams(tmp_path, algo, env_id), checkpoint_freq=64, progress=False
    )
    assert (out / "model.zip").exists() and (out / "train_info.json").exists()
    assert latest_checkpoint(out) is not None and latest_checkpoint(out)[1] == info["timesteps"] >= 192
    model, meta = load_agent(out / "model.zip")
    assert meta == dict(meta, algo=algo, env_id=env_id, scenario=SCENARIO, scale=SCALE)
    assert info["env_steps_per_s"] > 0


def test_train_command_says_how_steps_were_rounded_and_what_it_wrote(tmp_path, capsys):
    out, hp = tmp_path / "run", tiny_hyperparams(tmp_path, "ppo", PRIORITY_ENV)
    assert (
        cli(
            [
                "train",
                "--algo",
                "ppo",
                "--scenario",
                SCENARIO,
                "--scale",
                str(SCALE),
                "--timesteps",
                "100",
                "--hyperparams",
                str(hp),
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    said = capsys.readouterr().out
    rollout = 64 * yaml.safe_load(hp.read_text())[PRIORITY_ENV].get("n_envs", 1)  # n_steps x n_envs
    assert f"trained {-(-100 // rollout) * rollout:,} steps (100 asked for" in said
    assert (
        f"wrote {out / 'model.zip'}, {out / 'vecnormalize.pkl'}, {out / 'run.json'}, {out / 'train_info.json'}, "
        f"{out / 'checkpoints'}"
    ) in said


def test_resume_continues_the_timestep_count(tmp_path):
    out, hp = tmp_path / "run", tiny_hyperparams(tmp_path, "ppo", PRIORITY_ENV)
    train_run("ppo", PRIORITY_ENV, 128, out, hyperparams=hp, checkpoint_freq=64, progress=False)
    first = json.loads((out / "train_info.json").read_text())
    info = train_run("ppo", PRIORITY_ENV, 256, out, resume=True, hyperparams=hp, progress=False)
    assert first["timesteps"] == 128 and info["timesteps"] == 256
    assert [s["steps"] for s in info["sessions"]] == [128, 128]
    model, _ = load_agent(out / "model.zip")
    assert model.num_timesteps == 256
    assert (out / "checkpoints" / "model_vecnormalize_256_steps.pkl").exists()


def test_resume_without_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(SpecError, match="no checkpoint"):
        train_run("ppo", PRIORITY_ENV, 64, tmp_path, resume=True, progress=False)


@pytest.fixture
def trained_twice(tmp_path):
    """A PPO run with checkpoints at 64 and 128 steps (no file left under a temporary name)."""
    out, hp = tmp_path / "run", tiny_hyperparams(tmp_path, "ppo", PRIORITY_ENV)
    train_run("ppo", PRIORITY_ENV, 128, out, hyperparams=hp, checkpoint_freq=64, progress=False)
    assert [steps for _, steps in checkpoints(out)] == [128, 64]
    assert not list(out.rglob("*.partial"))
    return out, hp


def test_resume_falls_back_when_the_newest_checkpoint_is_truncated(trained_twice, caplog):
    out, hp = trained_twice
    newest = out / "checkpoints" / "model_128_steps.zip"
    newest.write_bytes(newest.read_bytes()[:300])  # a kill while writing it, before checkpoints were atomic
    info = train_run("ppo", PRIORITY_ENV, 192, out, resume=True, hyperparams=hp, progress=False)
    assert "cannot resume from model_128_steps.zip" in caplog.text
    assert [s["steps"] for s in info["sessions"]] == [128, 128]  # 64 -> 192 in the second part


def test_resume_refuses_a_checkpoint_without_its_vecnormalize_statistics(trained_twice):
    out, hp = trained_twice
    for steps in (64, 128):
        (out / "checkpoints" / f"model_vecnormalize_{steps}_steps.pkl").unlink()
    with pytest.raises(SpecError, match="VecNormalize statistics .* are missing"):
        train_run("ppo", PRIORITY_ENV, 192, out, resume=True, hyperparams=hp, progress=False)


def test_resume_refuses_another_runs_folder(trained_twice):
    out, hp = trained_twice
    with pytest.raises(SpecError, match=r"holds another run \(scenario: 'paper/low-v0' there, 'paper/high-v0' asked"):
        train(
            TrainConfig(
                algo="ppo",
                env_id=PRIORITY_ENV,
                scenario="paper/high-v0",
                scale=SCALE,
                timesteps=192,
                out=out,
                hyperparams=hp,
                resume=True,
                progress=False,
            )
        )


def test_a_fresh_run_refuses_a_used_folder_unless_overwrite(trained_twice):
    out, hp = trained_twice
    with pytest.raises(SpecError, match="is not empty: pass --resume .* --overwrite"):
        train_run("ppo", PRIORITY_ENV, 64, out, hyperparams=hp, progress=False)
    info = train_run("ppo", PRIORITY_ENV, 64, out, hyperparams=hp, progress=False, overwrite=True)
    assert info["timesteps"] == 64 and [steps for _, steps in checkpoints(out)] == [64]


def test_an_interrupted_run_keeps_its_checkpoint_and_record(tmp_path, monkeypatch, ppo_interrupted_after_one_rollout):
    from stable_baselines3 import PPO

    out, hp = tmp_path / "run", tiny_hyperparams(tmp_path, "ppo", PRIORITY_ENV)
    with pytest.raises(KeyboardInterrupt):
        train_run("ppo", PRIORITY_ENV, 256, out, hyperparams=hp, progress=False)
    record = json.loads((out / "train_info.json").read_text())
    assert record["complete"] is False and record["timesteps"] == 64 == latest_checkpoint(out)[1]
    assert not (out / "model.zip").exists()
    monkeypatch.setattr(PPO, "learn", ppo_interrupted_after_one_rollout)  # the real one again
    info = train_run("ppo", PRIORITY_ENV, 128, out, hyperparams=hp, resume=True, progress=False)
    assert info["complete"] and [(s["steps"], s["complete"]) for s in info["sessions"]] == [(64, False), (64, True)]
    assert info["cpu_s"] == pytest.approx(sum(s["cpu_s"] for s in info["sessions"]))


def test_held_out_evaluation_keeps_the_best_model(tmp_path, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="venn_gym.agents")
    out, hp = tmp_path / "run", tiny_hyperparams(tmp_path, "ppo", PRIORITY_ENV)
    info = train_run("ppo", PRIORITY_ENV, 128, out, hyperparams=hp, progress=False, eval_seeds=(100, 101), eval_freq=64)
    steps = [row["timesteps"] for row in info["evaluations"]]
    assert steps == [64, 128]
    rows = (out / "evaluations.csv").read_text().splitlines()
    assert rows[0] == "timesteps,mean_jct_h,venn_mean_jct_h,paired_vs_venn,best" and len(rows) == 3
    best = min(info["evaluations"], key=lambda row: row["mean_jct_h"])
    assert best["best"] and (out / "best_model.zip").exists()
    for row in info["evaluations"]:  # the figures are real runs: Venn's is the native run's
        assert row["paired_vs_venn"] == pytest.approx(row["venn_mean_jct_h"] / row["mean_jct_h"], rel=0.2)
    from venn_gym.experiments.compare import RunSpec, execute
    from venn_gym.metrics import censored_jct

    venn = [
        censored_jct(execute(RunSpec(SCENARIO, s, "venn", (("scale", SCALE),))).result.summary()) for s in (100, 101)
    ]
    assert info["evaluations"][0]["venn_mean_jct_h"] == pytest.approx(np.mean(venn) / 3600)
    assert "paired ratio" in caplog.text


def test_evaluation_seeds_must_be_held_out(tmp_path):
    with pytest.raises(SpecError, match="evaluation seeds must be held out"):
        train_run("ppo", PRIORITY_ENV, 64, tmp_path / "run", eval_seeds=(5, 10_001), progress=False)


@pytest.fixture(scope="module")
def cloned(tmp_path_factory):
    """A PPO priority agent behaviour-cloned from srsf-total (no RL steps)."""
    tmp = tmp_path_factory.mktemp("bc")
    out = tmp / "bc_agent"
    info = train_run(
        "ppo",
        PRIORITY_ENV,
        0,
        out,
        bc_warm_start=True,
        hyperparams=tiny_hyperparams(tmp, "ppo", PRIORITY_ENV),
        progress=False,
    )
    return out / "model.zip", info


def test_bc_reduces_its_loss_and_matches_the_teacher(cloned):
    path, info = cloned
    assert info["bc"]["teacher"] == "srsf-total"
    assert info["bc"]["loss_last_epoch"] < 0.5 * info["bc"]["loss_first_epoch"]
    agent = run_agent(str(path), SCENARIO, (("scale", SCALE),), 100).result.summary()["mean_jct_s"]
    from venn_gym.catalog import make_scenario
    from venn_gym.policy import run_policy

    teacher = run_policy(make_scenario(SCENARIO, seed=100, scale=SCALE), RemainingServicePolicy())
    assert agent == pytest.approx(teacher.summary()["mean_jct_s"], rel=0.15)


def test_evaluate_writes_compare_schema_with_intervals(cloned, tmp_path):
    path, _ = cloned
    summary = evaluate([path], SCENARIO, {"scale": SCALE}, [100, 101], policies=["random", "venn"], out=tmp_path)
    written = json.loads((tmp_path / "summary.json").read_text())
    assert set(written["policies"]) == {"random", "venn", "bc_agent"}
    assert {"scenario", "scenario_options", "seeds", "reference_policy", "machine", "command"} <= set(written)
    for p in written["policies"].values():
        assert {"mean_jct_s", "mean_jct_s_std", "p95_jct_s", "speedup_vs_random", "per_seed"} <= set(p)
        lo, hi = p["mean_jct_s_ci95"]
        assert lo <= p["mean_jct_s"] <= hi
        lo, hi = p["speedup_vs_random_ci95"]
        assert lo <= p["speedup_vs_random"] <= hi
    assert written["policies"]["venn"]["paired_vs_venn"] == 1.0
    agent_seeds = {s["seed"]: s["mean_jct_s"] for s in written["policies"]["bc_agent"]["per_seed"]}
    by_hand = np.mean([s["mean_jct_s"] / agent_seeds[s["seed"]] for s in written["policies"]["venn"]["per_seed"]])
    assert written["policies"]["bc_agent"]["paired_vs_venn"] == pytest.approx(by_hand, rel=1e-12)
    assert written["policies"]["bc_agent"]["paired_vs_venn"] != pytest.approx(1.0, abs=1e-4)
    groups = {(r["breakdown"], r["group"]) for r in summary["breakdown"]}
    assert ("size", "small") in groups and ("size", "large") in groups and ("category", "general") in groups
    assert (tmp_path / "summary.csv").exists() and (tmp_path / "breakdown.csv").exists()


def test_ci95_is_a_t_interval():
    lo, hi = ci95([1.0, 2.0, 3.0])
    t = 4.302652729911275  # two-sided 95 %, 2 degrees of freedom
    assert (lo, hi) == pytest.approx((2.0 - t / np.sqrt(3), 2.0 + t / np.sqrt(3)), rel=1e-9)


@pytest.mark.parametrize("model", shipped_models(), ids=lambda p: p.stem)
def test_shipped_models_load_and_evaluate(model):
    assert model.stat().st_size < 600_000
    assert model.with_suffix(".json").exists()
    run = run_agent(str(model), SCENARIO, (("scale", SCALE),), 100)
    assert run.result.summary()["unfinished_jobs"] == 0


LEGACY_LOAD = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("agents", "baselines"):
            raise ImportError(f"blocked {name}")
sys.meta_path.insert(0, Block())
from venn_gym.agents.play import load_agent, renamed_classes
model, meta = load_agent(sys.argv[1])
extractor = model.policy.features_extractor
print(type(model.policy).__module__, type(extractor).__module__, sorted(renamed_classes(sys.argv[1])))
"""


def test_models_saved_under_the_old_package_names_load_without_them(tmp_path):
    """The shipped models pickle ``agents.networks`` references (saved before the packages were
    namespaced): they load, with the classes taken from ``venn_gym.agents``, and no top-level
    ``agents`` module is imported."""
    import subprocess
    import sys

    model = Path(shipped_models()[0]).resolve()
    assert model.stem == "maskable_ppo_device_low"  # its policy class is sb3_contrib's; its extractor ours
    done = subprocess.run(
        [sys.executable, "-c", LEGACY_LOAD, str(model)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == [
        "sb3_contrib.common.maskable.policies",
        "venn_gym.agents.networks",
        "['policy_kwargs']",
    ]


def test_models_saved_under_the_current_names_need_no_renaming(cloned):
    from venn_gym.agents.play import renamed_classes

    assert renamed_classes(cloned[0]) == {}
    model, _ = load_agent(cloned[0])
    assert type(model.policy).__module__ == "venn_gym.agents.networks"


def test_every_yaml_entry_loads():
    for path in HYPERPARAMS_DIR.glob("*.yml"):
        algo = next(a for a in ALGOS if path.stem == a or path.stem.startswith(a + "_"))  # ppo_per_class.yml: ppo
        for env_id in yaml.safe_load(path.read_text()):
            assert load_hyperparams(algo, env_id, path)["env_kwargs"]["max_jobs"] == 50


@pytest.mark.parametrize(
    "args,message",
    [
        (["--algo", "dqn", "--env", PRIORITY_ENV], "dqn needs a Discrete action space"),
        (["--algo", "maskable_ppo", "--env", PRIORITY_ENV], "maskable_ppo needs action masks"),
        (["--algo", "sac", "--env", PRIORITY_ENV], "unknown algorithm 'sac'"),
        (["--algo", "ppo", "--env", "CartPole-v1"], "unknown env"),
    ],
)
def test_bad_inputs_give_clear_errors(tmp_path, capsys, args, message):
    assert cli(["train", *args, "--timesteps", "10", "--out", str(tmp_path), "--scale", "0.02"]) == 2
    assert message in capsys.readouterr().err


def test_evaluate_refuses_training_seeds(cloned, capsys):
    assert cli(["evaluate", "--agent", str(cloned[0]), "--seeds", "10001", "--scale", "0.02"]) == 2
    assert "held out" in capsys.readouterr().err


def test_sweep_ray_matches_local():
    pytest.importorskip("ray")
    from venn_gym.experiments.sweep import grid, run_sweep

    tasks = grid(["random", "venn"], [SCENARIO], [100], {"scale": SCALE})
    local = run_sweep(tasks, backend="serial")
    ray_rows = run_sweep(tasks, backend="ray", workers=2)
    assert [r["mean_jct_s"] for r in ray_rows] == [r["mean_jct_s"] for r in local]


def _obs_tensors(env_id: str, steps: int = 20, **kw):
    import gymnasium as gym
    import torch as th

    env = gym.make(env_id, scenario=SCENARIO, scenario_options={"scale": SCALE}, **kw)
    obs, _ = env.reset(seed=100)
    for _ in range(steps):
        obs, *_ = env.step(env.action_space.sample() if env_id == PRIORITY_ENV else env.unwrapped.idle_action)
    return env, {k: th.as_tensor(v)[None] for k, v in obs.items()}


@pytest.mark.parametrize("per_class", [False, True])
def test_slot_scores_follow_the_jobs_when_slots_are_permuted(per_class):
    """The score of slot i depends on job i and the pooled context only: permuting the
    job table permutes the action mean the same way (per device class for per-class scores)."""
    import torch as th
    from stable_baselines3 import PPO

    from venn_gym.agents.networks import JobClassScorePolicy, JobScorePolicy

    env, obs = _obs_tensors(PRIORITY_ENV, per_class_scores=per_class)
    policy = JobClassScorePolicy if per_class else JobScorePolicy
    model = PPO(policy, env, n_steps=16, batch_size=16, device="cpu", seed=0)
    perm = th.randperm(obs["jobs"].shape[1], generator=th.Generator().manual_seed(1))
    permuted = dict(obs, **{k: obs[k][:, perm] for k in ("jobs", "job_requirement", "job_mask")})
    with th.no_grad():
        a = model.policy.get_distribution(obs).distribution.mean
        b = model.policy.get_distribution(permuted).distribution.mean
    if per_class:
        a, b = a.reshape(1, -1, len(perm)), b.reshape(1, -1, len(perm))
    active = obs["job_mask"][0, perm] > 0
    assert active.sum() > 1
    assert th.allclose(a[..., perm][..., active], b[..., active], atol=1e-5)


def test_set_extractor_weights_fit_any_number_of_job_slots():
    from venn_gym.agents.networks import JobSetExtractor

    small, _ = _obs_tensors(DEVICE_ENV, steps=0, max_jobs=50)
    large, obs = _obs_tensors(DEVICE_ENV, steps=0, max_jobs=80)
    a, b = JobSetExtractor(small.observation_space), JobSetExtractor(large.observation_space)
    b.load_state_dict(a.state_dict())  # same parameters whatever max_jobs is
    assert b(obs).shape == (1, b.features_dim)


@pytest.mark.slow
def test_per_class_bc_clones_venn_scheduling(tmp_path):
    """JobClassScorePolicy cloned from venn-no-match gets close to its teacher (about 100 s)."""
    hp = tmp_path / "pc.yml"
    table = yaml.safe_load((HYPERPARAMS_DIR / "ppo_per_class.yml").read_text())
    table[PRIORITY_ENV]["bc"] = {"episodes": 2, "epochs": 10, "log_std": -2.0}
    hp.write_text(yaml.safe_dump(table))
    info = train_run("ppo", PRIORITY_ENV, 0, tmp_path / "pc", bc_warm_start=True, hyperparams=hp, progress=False)
    assert info["bc"]["teacher"] == "venn-no-match"
    assert info["bc"]["loss_last_epoch"] < 0.5 * info["bc"]["loss_first_epoch"]
    summary = evaluate(
        [tmp_path / "pc" / "model.zip"], SCENARIO, {"scale": SCALE}, [100, 101], policies=["random", "venn-no-match"]
    )
    p = summary["policies"]
    assert p["pc"]["speedup_vs_random"] > 0.9 * p["venn-no-match"]["speedup_vs_random"]


def test_leaderboard_writes_md_csv_png(cloned, tmp_path):
    import shutil

    from venn_gym.experiments.leaderboard import leaderboard

    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(cloned[0], models / "bc_agent.zip")
    shutil.copy(cloned[0].parent / "train_info.json", models / "bc_agent.json")
    suite = get_suite("paper-v1").modified([SCENARIO], SCALE, [100, 101])
    md, csv, png = leaderboard(tmp_path / "results", suite, models=models)
    text = md.read_text()
    assert "| **bc_agent** |" in text and "| venn |" in text and "held-out seeds [100, 101]" in text
    assert f"Suite {suite.name}:" in text
    assert png.stat().st_size > 0 and "speedup_ci95_lo" in csv.read_text()
    rows = pd.read_csv(tmp_path / "results" / "leaderboard" / "rows.csv")
    assert list(rows.columns) == list(ROW_FIELDS) and set(rows.suite) == {suite.name}
    agent = rows[rows.policy == "bc_agent"].iloc[0]
    assert agent.model_sha256 == hashlib.sha256((models / "bc_agent.zip").read_bytes()).hexdigest()
    assert agent.trained_on == f"{SCENARIO} x{SCALE}" and agent.seeds == "100-101"
    venn = rows[rows.policy == "venn"].iloc[0]
    assert venn.paired_vs_venn == 1.0 and pd.isna(venn.model_sha256)
    assert leaderboard(tmp_path / "results", models=models, run=False)[0] == md


def test_evaluate_suite_writes_one_row_per_policy_and_scenario(cloned, tmp_path, capsys):
    out = tmp_path / "suite"
    args = ["evaluate", "--suite", "paper-v0", "--agent", str(cloned[0]), "--scenario", SCENARIO]
    assert cli([*args, "--scale", str(SCALE), "--seeds", "100,", "--policies", "venn,fifo", "--out", str(out)]) == 0
    rows = pd.read_csv(out / "rows.csv")
    name = f"paper-v0 (modified: scenarios {SCENARIO}, scale {SCALE:g}, test seeds 100)"
    assert set(rows.suite) == {name} and set(rows.scenario) == {SCENARIO}
    assert sorted(rows.policy) == ["bc_agent", "fifo", "random", "venn"]  # random: the speed-up reference
    assert (out / SCENARIO.replace("/", "_") / "summary.json").exists()
    assert "bc_agent" in capsys.readouterr().out


# ---------------------------------------------------------------- residual agents (agents/residual.py)
RESIDUAL_ENV_KWARGS = {
    "max_jobs": 50,
    "max_requirements": 4,
    "max_tiers": 4,
    "per_class_scores": True,
    "tier_choice": True,
}


def _episode(env, act, seed: int = 100):
    """One episode of a wrapped env on (SCENARIO, seed); ``act(step)`` gives the action.
    Returns (rewards, the run's result, the env)."""
    obs, _ = env.reset(seed=seed)
    rewards, done = [], False
    while not done:
        assert env.observation_space.contains(obs)
        obs, reward, terminated, truncated, _ = env.step(act(len(rewards)))
        rewards.append(reward)
        done = terminated or truncated
    return np.array(rewards), env.unwrapped.sim.result("agent"), env


def _residual_episode(correction, seed: int = 100):
    """An episode of the residual env over Venn; ``correction(step)``: the per-slot correction."""
    from venn_gym.agents.config import make_env
    from venn_gym.agents.residual import ResidualEnv

    return _episode(
        ResidualEnv(make_env(PRIORITY_ENV, SCENARIO, SCALE, RESIDUAL_ENV_KWARGS), teacher="venn"), correction, seed
    )


def _venn_run(seed: int = 100, spec: str = "venn"):
    from venn_gym.catalog import make_scenario
    from venn_gym.policy import run_policy

    return run_policy(make_scenario(SCENARIO, seed=seed, scale=SCALE), make_teacher(spec), keep_rounds=False)


def test_residual_with_zero_correction_is_venn_exactly():
    rewards, result, _ = _residual_episode(lambda step: np.zeros(50, dtype=np.float32))
    venn = _venn_run()
    assert [(j.end_s, j.tasks, j.failed_rounds) for j in result.jobs] == [
        (j.end_s, j.tasks, j.failed_rounds) for j in venn.jobs
    ]
    assert np.abs(rewards).max() < 1e-12  # same run as the reference: nothing to gain or lose at any step


def test_residual_return_is_the_teacher_total_jct_minus_the_agent_s():
    rng = np.random.default_rng(0)
    rewards, result, env = _residual_episode(lambda step: rng.uniform(-1, 1, 50).astype(np.float32))
    agent_total = sum(j.jct_s for j in result.jobs)
    venn_total = sum(j.jct_s for j in _venn_run().jobs)
    assert agent_total != pytest.approx(venn_total, rel=1e-3)  # random corrections do change the run
    assert rewards.sum() == pytest.approx((venn_total - agent_total) / env.unwrapped.reward_scale, rel=1e-9)


def test_untrained_residual_agent_evaluates_as_venn(tmp_path):
    """The policy's correction starts at exactly 0, and evaluation rebuilds the wrapper from the model."""
    hp = tiny_hyperparams(tmp_path, "ppo", PRIORITY_ENV, "ppo_residual.yml")
    train_run("ppo", PRIORITY_ENV, 0, tmp_path / "res", hyperparams=hp, progress=False)
    model, meta = load_agent(tmp_path / "res" / "model.zip")
    assert meta["residual"] == {"teacher": "venn", "correction_weight": 0.5, "relative_reward": True}
    run = run_agent(str(tmp_path / "res" / "model.zip"), SCENARIO, (("scale", SCALE),), 101)
    assert [j.end_s for j in run.result.jobs] == [j.end_s for j in _venn_run(101).jobs]


@pytest.mark.parametrize(
    "settings,env_kwargs,message",
    [
        ({"teacher": "venn"}, {"max_jobs": 50}, "per_class_scores"),
        ({"correction_weight": 1.5}, {"per_class_scores": True}, "correction_weight must be in"),
        ({"teacher": "oracle"}, {"per_class_scores": True}, "oracle"),
        ({"weight": 0.1}, {"per_class_scores": True}, "unknown residual settings"),
    ],
)
def test_residual_settings_are_checked(settings, env_kwargs, message):
    from venn_gym.agents.residual import check_settings

    with pytest.raises(SpecError, match=message):
        check_settings(settings, env_kwargs)


def test_residual_agent_refuses_behaviour_cloning(tmp_path):
    with pytest.raises(SpecError, match="starts as its teacher"):
        train_run(
            "ppo",
            PRIORITY_ENV,
            0,
            tmp_path,
            bc_warm_start=True,
            hyperparams=HYPERPARAMS_DIR / "ppo_residual.yml",
            progress=False,
        )


# ---------------------------------------------------------------- knobs agents (agents/knobs.py)
def _knobs_episode(choose, seed: int = 100):
    """An episode of the knobs env (default menu); ``choose(step)``: the menu entry."""
    from venn_gym.agents.config import make_env
    from venn_gym.agents.knobs import KnobEnv

    return _episode(KnobEnv(make_env(PRIORITY_ENV, SCENARIO, SCALE, RESIDUAL_ENV_KWARGS)), choose, seed)


@pytest.mark.parametrize("entry", [0, 2])
def test_knobs_always_choosing_a_matching_variant_is_that_variant_exactly(entry):
    """Menu entries 0 (venn) and 2 (venn:alpha=1.1) match tiers with Venn's random stream."""
    from venn_gym.agents.knobs import DEFAULTS

    rewards, result, _ = _knobs_episode(lambda step: np.int64(entry))
    native = _venn_run(spec=DEFAULTS["menu"][entry])
    assert [(j.end_s, j.tasks) for j in result.jobs] == [(j.end_s, j.tasks) for j in native.jobs]
    if entry == 0:
        assert np.abs(rewards).max() < 1e-12


def test_knobs_without_matching_is_venn_no_match_and_the_return_is_relative_to_venn():
    rewards, result, env = _knobs_episode(lambda step: 1)  # venn-no-match
    native = _venn_run(spec="venn-no-match")
    assert [j.end_s for j in result.jobs] == [j.end_s for j in native.jobs]
    venn_total = sum(j.jct_s for j in _venn_run().jobs)
    agent_total = sum(j.jct_s for j in result.jobs)
    assert agent_total != pytest.approx(venn_total, rel=1e-4)
    assert rewards.sum() == pytest.approx((venn_total - agent_total) / env.unwrapped.reward_scale, rel=1e-9)


@pytest.mark.parametrize(
    "settings,env_kwargs,message",
    [
        ({"menu": ["venn"]}, RESIDUAL_ENV_KWARGS, "at least two"),
        ({"menu": ["venn", "srsf"]}, RESIDUAL_ENV_KWARGS, "'srsf' is not a Venn variant"),
        ({"menu": ["venn", "venn-no-sched"]}, RESIDUAL_ENV_KWARGS, "not a Venn variant with scheduling"),
        ({"menu": ["venn", "venn:beta=2"]}, RESIDUAL_ENV_KWARGS, "bad policy option"),
        ({"choices": ["venn"]}, RESIDUAL_ENV_KWARGS, "unknown knobs settings"),
        ({}, {"per_class_scores": True}, "tier_choice"),
    ],
)
def test_knobs_settings_are_checked(settings, env_kwargs, message):
    from venn_gym.agents.knobs import check_settings

    with pytest.raises(SpecError, match=message):
        check_settings(settings, env_kwargs)


def test_knobs_illegal_choice_is_a_clear_error():
    from venn_gym.agents.config import make_env
    from venn_gym.agents.knobs import KnobEnv

    env = KnobEnv(make_env(PRIORITY_ENV, SCENARIO, SCALE, RESIDUAL_ENV_KWARGS))
    with pytest.raises(VennGymError, match="call reset"):
        env.step(0)
    env.reset(seed=100)
    for bad in (4, -1, 1.0, np.array([0, 1])):
        with pytest.raises(IllegalActionError, match="knob choice must be one integer"):
            env.step(bad)
    env.step(0)  # the episode goes on after a refused action


def test_knobs_agent_trains_and_evaluates_from_its_record(tmp_path):
    hp = tiny_hyperparams(tmp_path, "ppo", PRIORITY_ENV, "ppo_knobs.yml")
    train_run("ppo", PRIORITY_ENV, 64, tmp_path / "knobs", hyperparams=hp, progress=False)
    _, meta = load_agent(tmp_path / "knobs" / "model.zip")
    assert meta["knobs"]["menu"] == ["venn", "venn-no-match", "venn:alpha=1.1", "venn-no-match:alpha=1.1"]
    run = run_agent(str(tmp_path / "knobs" / "model.zip"), SCENARIO, (("scale", SCALE),), 101)
    assert run.result.summary()["unfinished_jobs"] == 0
    with pytest.raises(SpecError, match="its actions are Venn variants"):
        train_run("ppo", PRIORITY_ENV, 0, tmp_path / "bc", bc_warm_start=True, hyperparams=hp, progress=False)


# ---------------------------------------------------------------- holds agents (agents/holds.py)
HOLD_ENV_KWARGS = {**RESIDUAL_ENV_KWARGS, "round_hold": True}
V1_SCENARIO = "paper/low-v1"  # request-timed rounds: where rounds fail and a retry can be held


def _holds_episode(act, seed: int = 100):
    from venn_gym.agents.config import make_env
    from venn_gym.agents.holds import HoldEnv

    env = HoldEnv(make_env(PRIORITY_ENV, V1_SCENARIO, SCALE, HOLD_ENV_KWARGS))
    return _episode(env, act, seed)


def _v1_venn(seed: int = 100):
    from venn_gym.catalog import make_scenario
    from venn_gym.policy import run_policy

    return run_policy(make_scenario(V1_SCENARIO, seed=seed, scale=SCALE), make_teacher("venn"), keep_rounds=False)


def test_holds_admitting_every_round_is_venn_exactly():
    rewards, result, _ = _holds_episode(lambda step: np.full(50, 0.5, dtype=np.float32))  # 0.5: still admit
    assert [(j.end_s, j.tasks) for j in result.jobs] == [(j.end_s, j.tasks) for j in _v1_venn().jobs]
    assert np.abs(rewards).max() < 1e-12


def test_holding_rounds_holds_them_and_the_return_is_relative_to_venn():
    """Every holdable round is held 300 s (the first hold bin) during the first 20 steps."""
    rewards, result, env = _holds_episode(lambda step: np.full(50, 0.6 if step < 20 else 0.0, dtype=np.float32))
    held = [j.held_s for j in result.jobs]
    assert sum(held) > 0 and all(h == 0 or h > 300.0 - 1e-6 for h in held)  # a hold may come after the request
    venn_total = sum(j.jct_s for j in _v1_venn().jobs)
    agent_total = sum(j.jct_s for j in result.jobs)
    assert rewards.sum() == pytest.approx((venn_total - agent_total) / env.unwrapped.reward_scale, rel=1e-9)


def test_hold_seconds_follow_the_bins():
    from venn_gym.agents.config import make_env
    from venn_gym.agents.holds import HoldEnv

    env = HoldEnv(make_env(PRIORITY_ENV, V1_SCENARIO, SCALE, HOLD_ENV_KWARGS))
    env.reset(seed=100)
    j = env.unwrapped.slots.occupied()[1][0]
    slot = env.unwrapped.slots.occupied()[0][0]
    for a, expected in [(-1.0, 0.0), (0.5, 0.0), (0.51, 300.0), (0.7, 1200.0), (0.9, 3600.0), (1.0, 3600.0)]:
        action = np.zeros(50, dtype=np.float32)
        action[slot] = a
        assert env.hold_seconds(action)[j] == expected, a
    with pytest.raises(IllegalActionError, match="holds action"):
        env.hold_seconds(np.full(50, np.nan))


@pytest.mark.parametrize(
    "settings,env_kwargs,message",
    [
        ({}, RESIDUAL_ENV_KWARGS, "round_hold"),
        ({"admit_below": 1.0}, HOLD_ENV_KWARGS, "admit_below must be in"),
        ({"teacher": "oracle"}, HOLD_ENV_KWARGS, "oracle"),
        ({"wait": 1}, HOLD_ENV_KWARGS, "unknown holds settings"),
    ],
)
def test_holds_settings_are_checked(settings, env_kwargs, message):
    from venn_gym.agents.holds import check_settings

    with pytest.raises(SpecError, match=message):
        check_settings(settings, env_kwargs)


def test_untrained_holds_agent_trains_and_evaluates_as_venn(tmp_path):
    hp = tiny_hyperparams(tmp_path, "ppo", PRIORITY_ENV, "ppo_holds.yml")
    train_run("ppo", PRIORITY_ENV, 0, tmp_path / "holds", hyperparams=hp, progress=False)
    _, meta = load_agent(tmp_path / "holds" / "model.zip")
    assert meta["holds"] == {"teacher": "venn", "admit_below": 0.5, "relative_reward": True}
    run = run_agent(str(tmp_path / "holds" / "model.zip"), V1_SCENARIO, (("scale", SCALE),), 101)
    assert [j.end_s for j in run.result.jobs] == [j.end_s for j in _v1_venn(101).jobs]
    with pytest.raises(SpecError, match="starts as its teacher"):
        train_run("ppo", PRIORITY_ENV, 0, tmp_path / "bc", bc_warm_start=True, hyperparams=hp, progress=False)
