"""Train an SB3 agent on a venn_gym env: ``venn-gym train --algo ppo --env venn_gym/JobPriority-v0 ...``.

A run is one :class:`TrainConfig`; :func:`train` reads top to bottom: check the settings, claim
the output folder, build the vectorised env, create the agent (or load the newest readable
checkpoint), learn with checkpoints and held-out evaluation, save.

Writes into ``out``:

- ``run.json``: the run's identity (algorithm, env, scenario, scale, seed, hyperparameters);
  ``resume`` refuses a folder whose run.json differs, so that a run is never continued under
  another run's name.
- ``model.zip``: the final agent; its env settings are stored in the model as ``venn_gym_meta``
  so that ``venn-gym evaluate`` rebuilds its env.
- ``train_info.json``: command, machine, budget, throughput, behaviour cloning, the held-out
  evaluations and every part of a resumed run (steps, wall and CPU seconds); also written
  when training stops early (``complete: false``).
- ``checkpoints/``: ``model_<steps>_steps.zip`` with its VecNormalize statistics and (DQN)
  replay buffer, every ``checkpoint_freq`` steps and at the end or on Ctrl-C. Each file is
  written under a temporary name and renamed, companions before the model, so a checkpoint
  whose model exists is complete; ``resume`` falls back to the previous checkpoint when the
  newest cannot be read.
- with ``eval_seeds``: ``evaluations.csv`` (mean JCT on the held-out seeds every
  ``eval_freq`` steps, and Venn's on the same seeds) and ``best_model.zip`` (the agent at its
  best evaluation).
- ``tb/``: TensorBoard logs, when tensorboard is installed.
"""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from venn_gym.catalog import DEFAULT_SCENARIO, make_scenario
from venn_gym.envs.base import IN_PROCESS_INFO_KEYS
from venn_gym.errors import SpecError
from venn_gym.metrics import censored_jct
from venn_gym.outputs import machine_description, write_atomically
from venn_gym.policy import run_policy
from venn_gym.suites import TRAIN_SEED_MIN

from . import bc
from .config import PRIORITY_ENV, algorithm_class, load_hyperparams, make_env, resolve
from .play import load_agent, play_episode, renamed_classes
from .vec_env import ShardedVecEnv

log = logging.getLogger(__name__)
_CKPT = re.compile(r"model_(\d+)_steps\.zip$")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. ``venn-gym train`` builds it from its options (same names, same defaults)."""

    algo: str
    """ppo, maskable_ppo, a2c or dqn."""
    out: Path
    """Folder for model.zip, run.json, train_info.json, checkpoints/ and tb/."""
    timesteps: int
    """Total environment steps, resumed parts included; PPO-style algorithms round up to whole rollouts."""
    env_id: str = PRIORITY_ENV
    """venn_gym/JobPriority-v0 or venn_gym/DeviceAssign-v0."""
    scenario: str = DEFAULT_SCENARIO
    """Registered scenario name or a YAML/JSON scenario file."""
    scale: float | None = None
    """Shrink demand, rounds and devices together (the scenario's default when None)."""
    seed: int = 0
    """Seeds the agent and the draw of training scenario seeds (all >= 10000, never evaluation seeds)."""
    hyperparams: Path | None = None
    """A YAML file instead of agents/hyperparams/<algo>.yml."""
    bc_warm_start: bool = False
    """Behaviour-clone a baseline before RL (device env: venn; priority env: srsf-total)."""
    checkpoint_freq: int | None = None
    """Steps between checkpoints (the hyperparameter file's checkpoint_freq, else 10,000, when None)."""
    eval_seeds: tuple[int, ...] = ()
    """Held-out scenario seeds (< 10000) for periodic evaluation; none: no evaluation."""
    eval_freq: int = 10_000
    """Steps between evaluations on eval_seeds (and one at the end)."""
    resume: bool = False
    """Continue the run in ``out`` (same identity) from its newest readable checkpoint."""
    overwrite: bool = False
    """Clear a non-empty ``out`` for a fresh run (otherwise refused)."""
    progress: bool = True
    """A progress bar over environment steps."""
    verbose: int = 0
    """SB3's verbosity."""
    threads: int = 1
    """Torch threads: 1 is fastest for these small networks (about 4x the default on a 2-core machine)."""
    processes: int = 1
    """Processes stepping the envs (this one and ``processes - 1`` workers, agents/vec_env.py); at most
    ``n_envs``. It changes the speed, never the result: not part of the run's identity."""
    command: str = ""
    """The command line, recorded in train_info.json."""


def train(config: TrainConfig) -> dict:
    """Train (or resume) and save; returns the train_info dict."""
    import torch

    torch.set_num_threads(config.threads)
    hp = load_hyperparams(config.algo, config.env_id, config.hyperparams)
    identity = _identity(config, hp)
    bc_cfg = dict(hp.pop("bc", None) or {})
    from_file = hp.pop("checkpoint_freq", None)  # a training setting, not an algorithm argument
    checkpoint_freq = int(config.checkpoint_freq or from_file or 10_000)
    _check(config, hp, checkpoint_freq)
    out = _claim_folder(config, identity)
    previous = (
        json.loads((out / "train_info.json").read_text())
        if config.resume and (out / "train_info.json").exists()
        else {}
    )

    venv = build_vec_env(config.env_id, config.scenario, config.scale, hp, config.seed, config.processes)
    with closing(venv):  # its worker processes end with the run, also on an error or Ctrl-C
        tb = str(out / "tb") if _has("tensorboard") else None
        bc_info = previous.get("bc")
        if config.resume:
            venv, model = load_newest_checkpoint(out, algorithm_class(config.algo), venv, tb)
            log.info("resuming from %s steps", f"{model.num_timesteps:,}")
        else:
            policy, policy_kwargs, algo_kwargs = resolve(hp)
            model = algorithm_class(config.algo)(
                policy,
                venv,
                seed=config.seed,
                tensorboard_log=tb,
                policy_kwargs=policy_kwargs,
                device="cpu",
                verbose=config.verbose,
                **algo_kwargs,
            )
            if config.bc_warm_start:
                t0 = time.perf_counter()
                bc_info = bc.warm_start(
                    model, config.env_id, config.scenario, config.scale, hp["env_kwargs"], seed=config.seed, **bc_cfg
                )
                bc_info["wall_s"] = time.perf_counter() - t0
                log.info(
                    "behaviour cloning from %s: loss %.4f -> %.4f on %d samples",
                    bc_info["teacher"],
                    bc_info["loss_first_epoch"],
                    bc_info["loss_last_epoch"],
                    bc_info["samples"],
                )
        model.venn_gym_meta = {
            "algo": config.algo,
            "env_id": config.env_id,
            "env_kwargs": hp["env_kwargs"],
            "scenario": config.scenario,
            "scale": config.scale,
            "seed": config.seed,
            "residual": hp.get("residual"),
            "knobs": hp.get("knobs"),
            "holds": hp.get("holds"),
        }

        callbacks: list[BaseCallback] = [AtomicCheckpoints(out / "checkpoints", checkpoint_freq)]
        evaluation = None
        if config.eval_seeds:
            evaluation = HeldOutEvaluation(config, hp, out, config.eval_freq, previous.get("evaluations", []))
            callbacks.append(evaluation)
        rich_bar = config.progress and _has("rich") and _has("tqdm")
        if config.progress and not rich_bar:
            callbacks.append(TqdmProgress(config.timesteps))

        start_steps = model.num_timesteps
        t0, cpu0 = time.perf_counter(), _cpu_s(venv)
        complete = False
        try:
            if config.timesteps > model.num_timesteps:
                model.learn(
                    config.timesteps - model.num_timesteps,
                    callback=CallbackList(callbacks),
                    progress_bar=rich_bar,
                    reset_num_timesteps=False,
                    tb_log_name=config.algo,
                )
            if evaluation is not None:
                evaluation.evaluate(model)  # the final agent is evaluated too
            complete = True
        finally:  # a checkpoint and the run's record also on an error or Ctrl-C: nothing trained is lost
            wall, cpu = time.perf_counter() - t0, _cpu_s(venv) - cpu0
            save_checkpoint(model, out / "checkpoints")
            steps = model.num_timesteps - start_steps
            info = {
                "command": config.command,
                "machine": machine_description(),
                **identity,
                "timesteps": int(model.num_timesteps),
                "complete": complete,
                "training_seeds": f"scenario seeds drawn >= {TRAIN_SEED_MIN} (held-out evaluation seeds are below)",
                "wall_s": previous.get("wall_s", 0.0) + wall,
                "cpu_s": previous.get("cpu_s", 0.0) + cpu,  # this process's and its env workers' (teachers' runs too)
                "env_steps_per_s": steps / wall if wall > 0 else None,
                "sessions": previous.get("sessions", [])
                + [{"steps": int(steps), "wall_s": wall, "cpu_s": cpu, "complete": complete}],
                "bc": bc_info,
                "residual": hp.get("residual"),
                "knobs": hp.get("knobs"),
                "holds": hp.get("holds"),
                "evaluations": evaluation.history if evaluation is not None else previous.get("evaluations", []),
                "tensorboard": tb,
            }
            write_atomically(out / "train_info.json", json.dumps(info, indent=2, default=str) + "\n")
        write_atomically(out / "model.zip", lambda path: _save_model(model, path))
        if isinstance(venv, VecNormalize):
            write_atomically(out / "vecnormalize.pkl", lambda path: venv.save(str(path)))
        return info


def _cpu_s(venv) -> float:
    """CPU seconds of this process and of the env's worker processes, if it has any."""
    workers = getattr(venv.unwrapped, "workers_cpu_s", None)
    return time.process_time() + (workers() if workers is not None else 0.0)


def _identity(config: TrainConfig, hp: dict) -> dict:
    """What makes two runs the same run (JSON-normalised, so that it compares with run.json)."""
    return json.loads(
        json.dumps(
            {
                "algo": config.algo,
                "env_id": config.env_id,
                "scenario": config.scenario,
                "scale": config.scale,
                "seed": config.seed,
                "hyperparams": hp,
                "bc_warm_start": config.bc_warm_start,
            },
            default=str,
        )
    )


def _check(config: TrainConfig, hp: dict, checkpoint_freq: int) -> None:
    if config.bc_warm_start and hp.get("residual"):
        raise SpecError("--bc-warm-start does not apply to a residual agent: it starts as its teacher")
    if config.bc_warm_start and hp.get("knobs"):
        raise SpecError("--bc-warm-start does not apply to a knobs agent: its actions are Venn variants already")
    if config.bc_warm_start and hp.get("holds"):
        raise SpecError("--bc-warm-start does not apply to a holds agent: it starts as its teacher")
    if config.bc_warm_start and config.algo == "dqn":
        raise SpecError("--bc-warm-start needs an actor-critic algorithm (ppo, maskable_ppo, a2c), not dqn")
    if not 1 <= config.processes <= int(hp["n_envs"]):
        raise SpecError(f"--processes must be between 1 and n_envs ({hp['n_envs']}), got {config.processes}")
    if config.timesteps < 0 or checkpoint_freq < 1 or config.eval_freq < 1:
        raise SpecError("--timesteps must be >= 0, --checkpoint-freq and --eval-freq >= 1")
    seen = [s for s in config.eval_seeds if s >= TRAIN_SEED_MIN]
    if seen:
        raise SpecError(
            f"evaluation seeds must be held out (below {TRAIN_SEED_MIN}, the training seeds' range); got {seen}"
        )


def _claim_folder(config: TrainConfig, identity: dict) -> Path:
    """The output folder, checked: a fresh run needs it empty (or ``overwrite``), a resumed one
    needs its run.json to name this run."""
    out = Path(config.out)
    manifest = out / "run.json"
    if config.resume:
        if not manifest.exists():
            raise SpecError(f"--resume: no checkpoint in {out / 'checkpoints'} and no run.json in {out}")
        stored = json.loads(manifest.read_text())
        differs = [k for k in identity if stored.get(k) != identity[k]]
        if differs:
            shown = ", ".join(
                f"{k}: {stored.get(k)!r} there, {identity.get(k)!r} asked" for k in differs if k != "hyperparams"
            )
            shown += ", hyperparameters differ" if "hyperparams" in differs else ""
            raise SpecError(
                f"--resume: {out} holds another run ({shown}); resume with the same settings, "
                f"or train into another --out"
            )
        return out
    if out.exists() and not out.is_dir():
        raise SpecError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not config.overwrite:
            raise SpecError(
                f"{out} is not empty: pass --resume to continue the run in it, --overwrite to start "
                f"again there, or choose another --out"
            )
        shutil.rmtree(out)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    write_atomically(manifest, json.dumps(identity, indent=2) + "\n")
    return out


def build_vec_env(env_id: str, scenario: str, scale, hp: dict, seed: int, processes: int = 1):
    """``hp["n_envs"]`` training envs, stepped in ``processes`` processes (the same rollouts for any number)."""
    fns = [
        lambda: Monitor(
            make_env(
                env_id,
                scenario,
                scale,
                hp["env_kwargs"],
                training=True,
                residual=hp.get("residual"),
                knobs=hp.get("knobs"),
                holds=hp.get("holds"),
            )
        )
        for _ in range(int(hp["n_envs"]))
    ]
    if processes > 1:
        venv = ShardedVecEnv(fns, processes, local_info_keys=IN_PROCESS_INFO_KEYS)
    else:
        venv = DummyVecEnv(fns)
    venv.seed(seed)
    if hp["normalize"]:
        if hp["normalize"] not in (True, "reward"):
            raise SpecError(f"normalize must be false or 'reward', got {hp['normalize']!r}")
        venv = VecNormalize(venv, norm_obs=False, norm_reward=True, gamma=hp.get("gamma", 0.99))
    return venv


# -- checkpoints --------------------------------------------------------------------------------


def _save_model(model, path: Path) -> None:
    buffer = io.BytesIO()  # SB3 would add ".zip" to a temporary name; a buffer keeps the name ours
    model.save(buffer)
    path.write_bytes(buffer.getvalue())


def _companions(folder: Path, steps: int) -> tuple[Path, Path]:
    return (folder / f"model_vecnormalize_{steps}_steps.pkl", folder / f"model_replay_buffer_{steps}_steps.pkl")


def save_checkpoint(model, folder: Path) -> Path:
    """The model at its current step count, companions first, each file complete or absent."""
    steps = model.num_timesteps
    normalize, replay = _companions(folder, steps)
    if model.get_vec_normalize_env() is not None:
        write_atomically(normalize, lambda path: model.get_vec_normalize_env().save(str(path)))
    if hasattr(model, "replay_buffer") and model.replay_buffer is not None:
        write_atomically(replay, lambda path: model.save_replay_buffer(path))
    return write_atomically(folder / f"model_{steps}_steps.zip", lambda path: _save_model(model, path))


def checkpoints(out: Path) -> list[tuple[Path, int]]:
    """(path, steps) of the checkpoints in ``out``, newest first."""
    found = [
        (p, int(m.group(1)))
        for p in (Path(out) / "checkpoints").glob("model_*_steps.zip")
        if (m := _CKPT.search(p.name))
    ]
    return sorted(found, key=lambda x: -x[1])


def latest_checkpoint(out: Path) -> tuple[Path, int] | None:
    found = checkpoints(out)
    return found[0] if found else None


def load_newest_checkpoint(out: Path, cls, venv, tensorboard_log):
    """(venv, model) from the newest checkpoint that loads with all its companions; a broken one
    (truncated, or its VecNormalize statistics or replay buffer missing) is skipped with a warning."""
    found = checkpoints(out)
    if not found:
        raise SpecError(f"--resume: no checkpoint in {out / 'checkpoints'}")
    problems = []
    for path, steps in found:
        normalize, replay = _companions(path.parent, steps)
        try:
            candidate = venv
            if isinstance(venv, VecNormalize):
                if not normalize.exists():
                    raise FileNotFoundError(f"its VecNormalize statistics ({normalize.name}) are missing")
                candidate = VecNormalize.load(str(normalize), venv.venv)
            model = cls.load(
                str(path),
                env=candidate,
                tensorboard_log=tensorboard_log,
                device="cpu",
                custom_objects=renamed_classes(path),
            )
            if hasattr(model, "replay_buffer"):
                if not replay.exists():
                    raise FileNotFoundError(f"its replay buffer ({replay.name}) is missing")
                model.load_replay_buffer(str(replay))
        except Exception as exc:  # noqa: BLE001 (any unreadable file means: try the previous checkpoint)
            problems.append(f"{path.name}: {exc}")
            log.warning("cannot resume from %s (%s); trying the previous checkpoint", path.name, exc)
            continue
        return candidate, model
    raise SpecError(f"--resume: no readable checkpoint in {out / 'checkpoints'}: " + "; ".join(problems))


class AtomicCheckpoints(BaseCallback):
    """A checkpoint every ``every`` environment steps (counted over all envs)."""

    def __init__(self, folder: Path, every: int):
        super().__init__()
        self.folder, self.every = Path(folder), int(every)
        self._next = None

    def _on_training_start(self) -> None:
        self._next = (self.model.num_timesteps // self.every + 1) * self.every

    def _on_step(self) -> bool:
        if self.model.num_timesteps >= self._next:
            save_checkpoint(self.model, self.folder)
            self._next += self.every
        return True


# -- evaluation on held-out seeds ------------------------------------------------------------------


class HeldOutEvaluation(BaseCallback):
    """Every ``every`` steps (at the first rollout boundary after): the agent's mean JCT (censored
    at the horizon) on the held-out seeds, beside Venn's on the same seeds; the best agent so far
    is kept as best_model.zip.
    The rl-zoo3 habit of SB3's EvalCallback, measured in JCT rather than reward (the reward of
    a residual or knobs agent in training is relative to its teacher, so it cannot rank agents)."""

    def __init__(self, config: TrainConfig, hp: dict, out: Path, every: int, history: list[dict]):
        super().__init__()
        self.config, self.hp, self.out, self.every = config, hp, Path(out), int(every)
        self.history = list(history)
        self.seeds = [int(s) for s in config.eval_seeds]
        self._venn = None
        self._next = None

    def _on_training_start(self) -> None:
        self._next = (self.model.num_timesteps // self.every + 1) * self.every

    def _on_step(self) -> bool:
        return True

    def _on_rollout_start(self) -> None:  # after the previous rollout's update: the agent as it now is
        if self.model.num_timesteps >= self._next:
            self.evaluate(self.model)
            self._next = (self.model.num_timesteps // self.every + 1) * self.every

    def venn_jcts(self) -> list[float]:
        """Venn's censored mean JCT per seed (native runs, once)."""
        if self._venn is None:
            from venn_gym.baselines import make_policy

            options = {} if self.config.scale is None else {"scale": float(self.config.scale)}
            self._venn = [
                censored_jct(
                    run_policy(
                        make_scenario(self.config.scenario, seed=s, **options), make_policy("venn"), keep_rounds=False
                    ).summary()
                )
                for s in self.seeds
            ]
        return self._venn

    def evaluate(self, model) -> dict:

        if self.history and self.history[-1]["timesteps"] == model.num_timesteps:
            return self.history[-1]  # this step count was evaluated already
        env = make_env(
            self.config.env_id,
            self.config.scenario,
            self.config.scale,
            self.hp["env_kwargs"],
            residual=self.hp.get("residual"),
            knobs=self.hp.get("knobs"),
            holds=self.hp.get("holds"),
        )
        masked = self.config.algo == "maskable_ppo"
        agent = [censored_jct(play_episode(model, env, s, masked).result("agent").summary()) for s in self.seeds]
        env.close()
        venn = self.venn_jcts()
        row = {
            "timesteps": int(model.num_timesteps),
            "mean_jct_h": float(np.mean(agent)) / 3600,
            "venn_mean_jct_h": float(np.mean(venn)) / 3600,
            "paired_vs_venn": float(np.mean([v / a for v, a in zip(venn, agent) if a > 0])),
            "seeds": self.seeds,
        }
        best = min((h["mean_jct_h"] for h in self.history), default=float("inf"))
        row["best"] = row["mean_jct_h"] < best
        self.history.append(row)
        if row["best"]:
            write_atomically(self.out / "best_model.zip", lambda path: _save_model(model, path))
        lines = ["timesteps,mean_jct_h,venn_mean_jct_h,paired_vs_venn,best"]
        lines += [
            f"{h['timesteps']},{h['mean_jct_h']:.4f},{h['venn_mean_jct_h']:.4f},{h['paired_vs_venn']:.4f},"
            f"{int(h['best'])}"
            for h in self.history
        ]
        write_atomically(self.out / "evaluations.csv", "\n".join(lines) + "\n")
        if self.logger is not None:
            self.logger.record("eval/mean_jct_h", row["mean_jct_h"])
            self.logger.record("eval/paired_vs_venn", row["paired_vs_venn"])
        log.info(
            "step %s: mean JCT %.2f h on seeds %s (Venn %.2f h, paired ratio %.3f)%s",
            f"{row['timesteps']:,}",
            row["mean_jct_h"],
            self.seeds,
            row["venn_mean_jct_h"],
            row["paired_vs_venn"],
            ", best so far: saved best_model.zip" if row["best"] else "",
        )
        return row


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


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def export(model_path: Path, dest: Path) -> Path:
    """A copy of a trained model for shipping (``agents/models/``): the optimizer state is
    dropped (it only matters to continue training) and ``train_info.json`` goes beside it."""

    model, meta = load_agent(Path(model_path))
    model.policy.optimizer = type(model.policy.optimizer)(model.policy.parameters(), **model.policy.optimizer_kwargs)
    dest = Path(dest).with_suffix(".zip")
    dest.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(dest))
    info = Path(model_path).parent / "train_info.json"
    if info.exists():
        dest.with_suffix(".json").write_text(info.read_text())
    return dest
