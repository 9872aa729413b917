"""Train an SB3 agent on a venn_gym env: ``venn-gym train --algo ppo --env venn_gym/JobPriority-v0 ...``.

Writes into ``--out``: ``model.zip`` (the final agent; its env settings are stored in
the model as ``venn_gym_meta`` so that ``venn-gym evaluate`` rebuilds its env),
``train_info.json`` (command, machine, budget, throughput, BC), ``checkpoints/``
(``model_<steps>_steps.zip`` + VecNormalize/replay buffer, every ``checkpoint_freq``
steps and at the end or on Ctrl-C) and ``tb/`` (TensorBoard, when installed).
``--resume`` continues from the newest checkpoint up to ``--timesteps`` in total.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from stable_baselines3.common.callbacks import BaseCallback, CallbackList, CheckpointCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from venn_gym.compare import machine_description
from venn_gym.errors import SpecError

from . import bc
from .config import algorithm_class, load_hyperparams, make_env, resolve

_CKPT = re.compile(r"model_(\d+)_steps\.zip$")


class TqdmProgress(BaseCallback):
    """A tqdm bar over environment steps (used when SB3's rich progress bar is unavailable)."""

    def __init__(self, total: int):
        super().__init__()
        self.total = total

    def _on_training_start(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=self.total, initial=self.model.num_timesteps, unit="step", dynamic_ncols=True)

    def _on_step(self) -> bool:
        self.bar.update(self.training_env.num_envs)
        return True

    def _on_training_end(self) -> None:
        self.bar.close()


def latest_checkpoint(out: Path) -> tuple[Path, int] | None:
    found = [(p, int(m.group(1))) for p in (out / "checkpoints").glob("model_*_steps.zip") if (m := _CKPT.search(p.name))]
    return max(found, key=lambda x: x[1]) if found else None


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def build_vec_env(env_id: str, scenario: str, scale, hp: dict, seed: int):
    fns = [lambda: Monitor(make_env(env_id, scenario, scale, hp["env_kwargs"], training=True,
                                    residual=hp.get("residual"), knobs=hp.get("knobs")))
           for _ in range(int(hp["n_envs"]))]
    venv = DummyVecEnv(fns)
    venv.seed(seed)
    if hp["normalize"]:
        if hp["normalize"] not in (True, "reward"):
            raise SpecError(f"normalize must be false or 'reward', got {hp['normalize']!r}")
        venv = VecNormalize(venv, norm_obs=False, norm_reward=True, gamma=hp.get("gamma", 0.99))
    return venv


def train(algo: str, env_id: str, scenario: str, scale: float | None, timesteps: int, seed: int, out: Path,
          resume: bool = False, bc_warm_start: bool = False, hyperparams: Path | None = None,
          checkpoint_freq: int | None = None, progress: bool = True, command: str = "", verbose: int = 0,
          threads: int = 1) -> dict:
    """Train (or resume) and save; returns the train_info dict. ``threads``: torch threads (1 is
    fastest for these small networks: about 4x the steps/s of the default on our 2-core machine)."""
    import torch

    torch.set_num_threads(threads)
    hp = load_hyperparams(algo, env_id, hyperparams)
    cls = algorithm_class(algo)
    bc_cfg = dict(hp.pop("bc", None) or {})
    checkpoint_freq = int(checkpoint_freq or hp.pop("checkpoint_freq", 10_000))
    hp.pop("checkpoint_freq", None)
    policy, policy_kwargs, algo_kwargs = resolve(hp)
    if bc_warm_start and hp.get("residual"):
        raise SpecError("--bc-warm-start does not apply to a residual agent: it starts as its teacher")
    if bc_warm_start and hp.get("knobs"):
        raise SpecError("--bc-warm-start does not apply to a knobs agent: its actions are Venn variants already")
    if bc_warm_start and algo == "dqn":
        raise SpecError("--bc-warm-start needs an actor-critic algorithm (ppo, maskable_ppo, a2c), not dqn")
    out = Path(out)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    venv = build_vec_env(env_id, scenario, scale, hp, seed)
    tb = str(out / "tb") if _has("tensorboard") else None
    info_path = out / "train_info.json"
    previous = json.loads(info_path.read_text()) if resume and info_path.exists() else {}
    ckpt = latest_checkpoint(out) if resume else None
    bc_info = previous.get("bc")
    if resume and ckpt is None:
        raise SpecError(f"--resume: no checkpoint in {out / 'checkpoints'}")
    if ckpt is not None:
        path, steps = ckpt
        vn = out / "checkpoints" / f"model_vecnormalize_{steps}_steps.pkl"
        if isinstance(venv, VecNormalize) and vn.exists():
            venv = VecNormalize.load(str(vn), venv.venv)
        model = cls.load(str(path), env=venv, tensorboard_log=tb, device="cpu")
        rb = out / "checkpoints" / f"model_replay_buffer_{steps}_steps.pkl"
        if rb.exists() and hasattr(model, "load_replay_buffer"):
            model.load_replay_buffer(str(rb))
        print(f"resuming from {path.name} ({model.num_timesteps} steps done)")
    else:
        model = cls(policy, venv, seed=seed, tensorboard_log=tb, policy_kwargs=policy_kwargs, device="cpu",
                    verbose=verbose, **algo_kwargs)
        if bc_warm_start:
            t0 = time.perf_counter()
            bc_info = bc.warm_start(model, env_id, scenario, scale, hp["env_kwargs"], seed=seed, **bc_cfg)
            bc_info["wall_s"] = time.perf_counter() - t0
            print(f"behaviour cloning from {bc_info['teacher']}: loss {bc_info['loss_first_epoch']:.4f} -> "
                  f"{bc_info['loss_last_epoch']:.4f} on {bc_info['samples']} samples")
    model.venn_gym_meta = {"algo": algo, "env_id": env_id, "env_kwargs": hp["env_kwargs"], "scenario": scenario,
                           "scale": scale, "seed": seed, "residual": hp.get("residual"),
                           "knobs": hp.get("knobs")}
    start_steps = model.num_timesteps
    ckpt_cb = CheckpointCallback(max(checkpoint_freq // venv.num_envs, 1), str(out / "checkpoints"), "model",
                                 save_replay_buffer=algo == "dqn", save_vecnormalize=True)
    callbacks = [ckpt_cb]
    rich_bar = progress and _has("rich") and _has("tqdm")
    if progress and not rich_bar:
        callbacks.append(TqdmProgress(timesteps))
    t0, cpu0 = time.perf_counter(), time.process_time()
    try:
        if timesteps > model.num_timesteps:
            model.learn(timesteps - model.num_timesteps, callback=CallbackList(callbacks), progress_bar=rich_bar,
                        reset_num_timesteps=False, tb_log_name=algo)
    finally:  # a checkpoint at the end, also on Ctrl-C: nothing trained is lost
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        model.save(str(out / "checkpoints" / f"model_{model.num_timesteps}_steps"))
        if isinstance(venv, VecNormalize):
            venv.save(str(out / "checkpoints" / f"model_vecnormalize_{model.num_timesteps}_steps.pkl"))
        if algo == "dqn":
            model.save_replay_buffer(str(out / "checkpoints" / f"model_replay_buffer_{model.num_timesteps}_steps"))
    model.save(str(out / "model.zip"))
    if isinstance(venv, VecNormalize):
        venv.save(str(out / "vecnormalize.pkl"))
    steps = model.num_timesteps - start_steps
    info = {
        "command": command, "machine": machine_description(), "algo": algo, "env_id": env_id,
        "scenario": scenario, "scale": scale, "seed": seed, "timesteps": int(model.num_timesteps),
        "training_seeds": "scenario seeds drawn >= 10000 (held-out evaluation seeds are below)",
        "wall_s": previous.get("wall_s", 0.0) + wall,
        "cpu_s": previous.get("cpu_s", 0.0) + cpu,  # this process's CPU time in RL (a teacher's reference runs count too)
        "env_steps_per_s": steps / wall if wall > 0 else None,
        "sessions": previous.get("sessions", []) + [{"steps": int(steps), "wall_s": wall, "cpu_s": cpu}],
        "bc": bc_info, "residual": hp.get("residual"), "knobs": hp.get("knobs"),
        "hyperparams": {k: v for k, v in load_hyperparams(algo, env_id, hyperparams).items()},
        "tensorboard": tb,
    }
    info_path.write_text(json.dumps(info, indent=2, default=str) + "\n")
    venv.close()
    return info


def export(model_path: Path, dest: Path) -> Path:
    """A copy of a trained model for shipping (``agents/models/``): the optimizer state is
    dropped (it only matters to continue training) and ``train_info.json`` goes beside it."""
    from .evaluate import load_agent

    model, meta = load_agent(Path(model_path))
    model.policy.optimizer = type(model.policy.optimizer)(model.policy.parameters(), **model.policy.optimizer_kwargs)
    dest = Path(dest).with_suffix(".zip")
    dest.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(dest))
    info = Path(model_path).parent / "train_info.json"
    if info.exists():
        dest.with_suffix(".json").write_text(info.read_text())
    return dest
