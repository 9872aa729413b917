"""A teacher allocates; the agent decides which rounds to hold back, and for how long.

The hindsight oracle (``venn-gym headroom``) finds its gains over Venn mostly by holding back the
retry of some jobs' failed rounds, a decision Venn never makes and that no constant rule captures
(holding every retry is worse than Venn). :class:`HoldEnv` lets an agent learn it per state.

It wraps ``JobPriority-v0`` with ``per_class_scores``, ``tier_choice`` and ``round_hold`` (the
space in which Venn's allocation and the holds are exact). At every step the teacher (default
``venn``) gives the scores; the agent's action is ``Box(-1, 1, (max_jobs,))``, one entry per job
slot: ``a <= admit_below`` admits the slot's round, and ``(admit_below, 1]`` is cut into
``len(hold_choices_s) - 1`` equal bins that hold it back for ``hold_choices_s[1]``,
``hold_choices_s[2]``, ... seconds. Only a round that can be held (synchronous, nothing
dispatched, not held already) is; for the others the entry is ignored. The default threshold
0.5 and a network whose mean starts at 0 (``ResidualScorePolicy``) make the untrained agent the
teacher, event for event.

The observation is the env's (with ``job_held`` and ``job_holdable``). The reward, in training,
is relative to the teacher on the same scenario seed (:class:`venn_gym.agents.residual.RelativeReturn`).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from venn_gym.errors import IllegalActionError, SpecError

from .residual import RelativeReturn
from .teachers import make_teacher

DEFAULTS = {"teacher": "venn", "admit_below": 0.5, "relative_reward": True}


def check_settings(settings: dict | None, env_kwargs: dict) -> dict:
    """The hold settings completed with DEFAULTS; clear errors for bad values."""
    settings = dict(DEFAULTS, **(settings or {}))
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise SpecError(f"unknown holds settings {unknown}; known: {sorted(DEFAULTS)}")
    if not -1.0 <= float(settings["admit_below"]) < 1.0:
        raise SpecError(f"holds admit_below must be in [-1, 1), got {settings['admit_below']}")
    make_teacher(settings["teacher"])  # fails on an unknown name
    _check_env_kwargs(env_kwargs)
    return settings


def _check_env_kwargs(env_kwargs: dict) -> None:
    if not (env_kwargs.get("per_class_scores") and env_kwargs.get("tier_choice") and env_kwargs.get("round_hold")):
        raise SpecError(
            "a holds agent needs env_kwargs per_class_scores: true, tier_choice: true and round_hold: true "
            "(the action space in which the teacher's allocation and the holds are exact)"
        )


class HoldEnv(gym.Wrapper):
    """See the module docstring. ``env``: a ``JobPriority-v0`` env (possibly wrapped)."""

    def __init__(
        self,
        env,
        teacher: str = DEFAULTS["teacher"],
        admit_below: float = DEFAULTS["admit_below"],
        relative_reward: bool = DEFAULTS["relative_reward"],
    ):
        super().__init__(env)
        _check_env_kwargs(getattr(env.unwrapped, "config", {}))
        self.teacher_name = teacher
        self.teacher = make_teacher(teacher)
        self.admit_below = float(admit_below)
        self.choices = np.asarray(env.unwrapped.codec.hold_choices_s, dtype=float)
        self.relative = RelativeReturn(teacher) if relative_reward else None
        self.action_space = spaces.Box(-1.0, 1.0, (env.unwrapped.max_jobs,), dtype=np.float32)

    def hold_seconds(self, action) -> np.ndarray:
        """Seconds to hold each job's round for this action (0: admit), over the scenario's jobs."""
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != self.action_space.shape or np.isnan(a).any():
            raise IllegalActionError(f"a holds action must be {self.action_space.shape[0]} numbers, got {action!r}")
        a = np.clip(a, -1.0, 1.0)
        env = self.env.unwrapped
        s, j = env.slots.occupied()
        bins = len(self.choices) - 1
        width = (1.0 - self.admit_below) / bins
        hold_bin = np.minimum(((a[s] - self.admit_below) / width).astype(np.int64), bins - 1)
        hold_s = np.zeros(env.sim.static.n_jobs)
        hold_s[j] = np.where(a[s] > self.admit_below, self.choices[1 + np.maximum(hold_bin, 0)], 0.0)
        return hold_s

    def reset(self, *, seed=None, options=None):
        obs, self._info = self.env.reset(seed=seed, options=options)
        self.teacher.reset(self._info["view"].static, self._info["scenario_seed"])
        if self.relative is not None:
            self.relative.reset(self.env.unwrapped)
        return obs, self._info

    def step(self, action):
        self.env.unwrapped._check_running()  # the same clear error as the env's before reset / after the end
        view, events = self._info["view"], self._info["events"]
        scores = self.teacher.scores(view, events)
        shares = self.teacher.shares(view, events)
        env_action = self.env.unwrapped.scores_to_action(scores, self.hold_seconds(action), shares)
        obs, reward, terminated, truncated, self._info = self.env.step(env_action)
        if self.relative is not None:
            reward += self.relative.step(self.env.unwrapped, terminated)
        return obs, float(reward), terminated, truncated, self._info
