"""Algorithms, hyperparameter files and environment construction for training and evaluation.

Hyperparameters live in ``agents/hyperparams/<algo>.yml`` (rl-zoo3 style), one entry
per env id::

    venn_gym/JobPriority-v0:
      policy: venn_gym.agents.networks.JobScorePolicy   # or MultiInputPolicy, ...
      n_envs: 1
      normalize: reward                         # false | reward (VecNormalize of the reward)
      env_kwargs: {max_jobs: 50}                # passed to gym.make
      residual: {teacher: venn}                 # optional: learn a correction to a teacher (agents/residual.py)
      knobs: {menu: [venn, venn-no-match]}      # optional: choose a Venn variant per step (agents/knobs.py)
      holds: {teacher: venn}                    # optional: hold rounds back over a teacher (agents/holds.py)
      policy_kwargs: {features_extractor_class: venn_gym.agents.networks.JobSetExtractor}
      learning_rate: 3.0e-4                     # every other key goes to the algorithm

Strings that name a class (``module.Class``) in ``policy`` and ``policy_kwargs`` are imported.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import gymnasium as gym
import numpy as np
import yaml

import venn_gym  # noqa: F401  (registers the envs)
from venn_gym.errors import SpecError
from venn_gym.suites import TRAIN_SEED_MIN

from . import holds as holds_module
from . import knobs as knobs_module
from . import residual as residual_module

HYPERPARAMS_DIR = Path(__file__).parent / "hyperparams"
MODELS_DIR = Path(__file__).parent / "models"  # the shipped agents
DEVICE_ENV, PRIORITY_ENV = "venn_gym/DeviceAssign-v0", "venn_gym/JobPriority-v0"
_CLASS_KEYS = ("features_extractor_class", "activation_fn", "optimizer_class")
_ENV_KEYS = ("policy", "n_envs", "normalize", "env_kwargs", "policy_kwargs", "residual", "knobs", "holds")


def algorithm_class(algo: str):
    """The SB3 class of ``algo`` (ppo, maskable_ppo, a2c, dqn)."""
    if algo == "ppo":
        from stable_baselines3 import PPO as cls
    elif algo == "a2c":
        from stable_baselines3 import A2C as cls
    elif algo == "dqn":
        from stable_baselines3 import DQN as cls
    elif algo == "maskable_ppo":
        from sb3_contrib import MaskablePPO as cls
    else:
        raise SpecError(f"unknown algorithm {algo!r}; expected one of {sorted(ALGOS)}")
    return cls


ALGOS = ("ppo", "maskable_ppo", "a2c", "dqn")


def check_algo_env(algo: str, env_id: str) -> None:
    """Clear errors for combinations that cannot work."""
    if algo not in ALGOS:
        raise SpecError(f"unknown algorithm {algo!r}; expected one of {list(ALGOS)}")
    if env_id not in (DEVICE_ENV, PRIORITY_ENV):
        raise SpecError(f"unknown env {env_id!r}; expected {DEVICE_ENV} or {PRIORITY_ENV}")
    if algo == "dqn" and env_id != DEVICE_ENV:
        raise SpecError(f"dqn needs a Discrete action space: use --env {DEVICE_ENV} ({env_id} has a Box action)")
    if algo == "maskable_ppo" and env_id != DEVICE_ENV:
        raise SpecError(f"maskable_ppo needs action masks: use --env {DEVICE_ENV} ({env_id} has none)")


def load_hyperparams(algo: str, env_id: str, path: Path | None = None) -> dict:
    """The YAML entry for (algo, env id), class names resolved."""
    check_algo_env(algo, env_id)
    path = path or HYPERPARAMS_DIR / f"{algo}.yml"
    table = yaml.safe_load(Path(path).read_text()) or {}
    if env_id not in table:
        raise SpecError(f"{path} has no entry for {env_id}")
    hp = dict(table[env_id])
    hp.setdefault("policy", "MultiInputPolicy")
    hp.setdefault("n_envs", 1)
    hp.setdefault("normalize", False)
    hp["env_kwargs"] = dict(hp.get("env_kwargs") or {})
    hp["policy_kwargs"] = dict(hp.get("policy_kwargs") or {})
    if hp.get("residual") is not None:
        if env_id != PRIORITY_ENV:
            raise SpecError(f"residual agents need {PRIORITY_ENV}, not {env_id}")
        hp["residual"] = residual_module.check_settings(hp["residual"], hp["env_kwargs"])
    if hp.get("knobs") is not None:
        if env_id != PRIORITY_ENV or hp.get("residual") is not None:
            raise SpecError(f"knobs agents need {PRIORITY_ENV} and no residual section")
        hp["knobs"] = knobs_module.check_settings(hp["knobs"], hp["env_kwargs"])
    if hp.get("holds") is not None:
        if env_id != PRIORITY_ENV or hp.get("residual") is not None or hp.get("knobs") is not None:
            raise SpecError(f"holds agents need {PRIORITY_ENV} and no residual or knobs section")
        hp["holds"] = holds_module.check_settings(hp["holds"], hp["env_kwargs"])
    return hp


def resolve(hp: dict) -> tuple[object, dict, dict]:
    """(policy, policy_kwargs, algorithm kwargs) with class names imported."""
    policy = hp["policy"]
    if "." in policy:
        policy = import_dotted(policy)
    pk = {
        k: (import_dotted(v) if k in _CLASS_KEYS and isinstance(v, str) else v) for k, v in hp["policy_kwargs"].items()
    }
    algo_kwargs = {k: v for k, v in hp.items() if k not in _ENV_KEYS}
    return policy, pk, algo_kwargs


# The packages installed as top-level ``agents`` / ``baselines`` before they were namespaced:
# hyperparameter files and saved models may still name their classes that way.
_RENAMED_PACKAGES = {"agents": "venn_gym.agents", "baselines": "venn_gym.baselines"}


def renamed_module(module: str) -> str:
    """The current name of a module that may be named as before the packages were namespaced."""
    top, dot, rest = module.partition(".")
    return _RENAMED_PACKAGES[top] + dot + rest if top in _RENAMED_PACKAGES else module


def import_dotted(dotted: str):
    """The object named ``module.name`` (old package names accepted)."""
    module, _, name = dotted.rpartition(".")
    try:
        return getattr(importlib.import_module(renamed_module(module)), name)
    except (ImportError, AttributeError) as exc:
        raise SpecError(f"cannot import {dotted!r}: {exc}") from None


class TrainingSeeds(gym.Wrapper):
    """Every episode gets a scenario seed >= TRAIN_SEED_MIN (drawn reproducibly from the
    seed given at the first reset), so training never sees the held-out evaluation seeds."""

    def __init__(self, env):
        super().__init__(env)
        self._rng = np.random.default_rng(0)

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        return self.env.reset(seed=int(self._rng.integers(TRAIN_SEED_MIN, 2**31 - 1)), options=options)

    def action_masks(self):
        return self.env.unwrapped.action_masks()


def env_kwargs(env_id: str, scenario: str, scale: float | None, extra: dict | None = None) -> dict:
    options = {} if scale is None else {"scale": float(scale)}
    return dict(extra or {}, scenario=scenario, scenario_options=options)


def make_env(
    env_id: str,
    scenario: str,
    scale: float | None,
    extra: dict | None = None,
    training: bool = False,
    residual: dict | None = None,
    knobs: dict | None = None,
    holds: dict | None = None,
):
    """The env (training: on training seeds only); ``residual`` / ``knobs`` / ``holds``: settings of
    the :class:`venn_gym.agents.residual.ResidualEnv` / :class:`venn_gym.agents.knobs.KnobEnv` /
    :class:`venn_gym.agents.holds.HoldEnv` around it (the reward is relative to the teacher only in
    training: evaluation needs no teacher run)."""
    env = gym.make(env_id, **env_kwargs(env_id, scenario, scale, extra))
    env = TrainingSeeds(env) if training else env
    if residual is not None:
        env = residual_module.ResidualEnv(
            env, **dict(residual, relative_reward=training and residual.get("relative_reward", True))
        )
    if knobs is not None:
        env = knobs_module.KnobEnv(env, **dict(knobs, relative_reward=training and knobs.get("relative_reward", True)))
    if holds is not None:
        env = holds_module.HoldEnv(env, **dict(holds, relative_reward=training and holds.get("relative_reward", True)))
    return env
