"""Residual policy over a heuristic teacher (residual policy learning, Silver et al. 2018).

:class:`ResidualEnv` wraps ``JobPriority-v0`` (``per_class_scores=True``; with
``tier_choice=True`` when the teacher restricts tiers, as Venn's matching does).
At every step the teacher (default ``venn``) scores the jobs, and the env's own
encoder turns its scores into the full per-(class, slot) action. The agent only
outputs a bounded **correction, one value per job slot**, and the env receives::

    scores[c, i] = (1 - w) * teacher[c, i] + w * correction[i]      (w = correction_weight)

(tier entries: the teacher's, unchanged). Scaling the teacher by ``1 - w`` keeps its
order in every device class and keeps the sum inside [-1, 1], so a zero correction
*is* the teacher: the run is identical to the teacher's, event for event.
The observation is the env's plus ``teacher_score`` (per slot: the teacher's best score
for the job over the device classes), so the correction can depend on the teacher's ranking.

**Reward relative to the teacher (common random numbers).** The simulator is
deterministic given (scenario, seed) and every exogenous input (arrivals, check-ins,
task times) is the same under any policy. So the teacher is run once per scenario seed
(natively, cached), which gives its time in system ``T(t) = sum_j (min(t, end_j) -
arrival_j)^+`` at any simulated time ``t``. The step reward is the env's
``-(increase of the agent's time in system)`` plus the teacher's increase over the same
simulated interval, and the last step adds the teacher's time after the agent's end:
the episode return is ``(teacher total JCT - agent total JCT) / reward_scale`` (> 0:
the agent beats the teacher), without the large seed-to-seed variance of the absolute JCT.
"""

from __future__ import annotations

from collections import OrderedDict

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from venn_gym.errors import SpecError
from venn_gym.policy import run_policy

from .teachers import make_teacher

DEFAULTS = {"teacher": "venn", "correction_weight": 0.5, "relative_reward": True}
_REFERENCE_CACHE_SIZE = 64  # teacher runs kept (one per scenario seed and settings)


def check_settings(settings: dict | None, env_kwargs: dict) -> dict:
    """The residual settings completed with DEFAULTS; clear errors for bad values."""
    settings = dict(DEFAULTS, **(settings or {}))
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise SpecError(f"unknown residual settings {unknown}; known: {sorted(DEFAULTS)}")
    if not 0.0 < float(settings["correction_weight"]) < 1.0:
        raise SpecError(f"residual correction_weight must be in (0, 1), got {settings['correction_weight']}")
    if not env_kwargs.get("per_class_scores"):
        raise SpecError("a residual agent needs env_kwargs per_class_scores: true (the teacher's scores are per class)")
    make_teacher(settings["teacher"])  # fails on an unknown name
    return settings


class TeacherReference:
    """The teacher's time in system as a function of simulated time, for one scenario."""

    def __init__(self, scenario, teacher: str):
        result = run_policy(scenario, make_teacher(teacher), keep_rounds=False)
        self.arrival_s = np.array([j.arrival_s for j in result.jobs])
        self.end_s = np.array([j.end_s for j in result.jobs])  # unfinished jobs (horizon): the last simulated time

    def time_in_system_s(self, t: float) -> float:
        return float(np.clip(np.minimum(t, self.end_s) - self.arrival_s, 0.0, None).sum())

    def total_s(self) -> float:
        return self.time_in_system_s(np.inf)


class RelativeReturn:
    """Step-reward terms that make an episode's return relative to a teacher's on the same
    scenario seed (see the module docstring); teacher runs are cached per scenario seed."""

    def __init__(self, teacher: str):
        self.teacher = teacher
        self._references: OrderedDict = OrderedDict()

    def _reference(self, inner) -> TeacherReference:
        key = (
            inner.scenario.name,
            inner.scenario.seed,
            repr(sorted(inner.config["scenario_options"].items())),
            inner.scenario.horizon_s,
        )
        if key not in self._references:
            self._references[key] = TeacherReference(inner.scenario, self.teacher)
            if len(self._references) > _REFERENCE_CACHE_SIZE:
                self._references.popitem(last=False)
        self._references.move_to_end(key)
        return self._references[key]

    def reset(self, inner) -> None:
        """At the start of an episode of ``inner`` (the unwrapped env, already reset)."""
        self._ref = self._reference(inner)
        self._teacher_elapsed = 0.0  # the env's reward also counts from 0 (see VennEnvBase._reward)

    def step(self, inner, terminated: bool) -> float:
        """The teacher's time in system since the last step, in reward units (add it to the env's reward)."""
        teacher_elapsed = self._ref.time_in_system_s(inner.sim.now)
        if terminated:  # the agent is done: the teacher's time in system after this counts too
            teacher_elapsed = max(teacher_elapsed, self._ref.total_s())
        bonus = (teacher_elapsed - self._teacher_elapsed) / inner.reward_scale
        self._teacher_elapsed = teacher_elapsed
        return bonus


class ResidualEnv(gym.Wrapper):
    """See the module docstring. ``env``: a ``JobPriority-v0`` env (possibly wrapped)."""

    def __init__(
        self,
        env,
        teacher: str = DEFAULTS["teacher"],
        correction_weight: float = DEFAULTS["correction_weight"],
        relative_reward: bool = DEFAULTS["relative_reward"],
    ):
        super().__init__(env)
        inner = env.unwrapped
        if not getattr(inner, "config", {}).get("per_class_scores"):
            raise SpecError("ResidualEnv needs JobPriority-v0 with per_class_scores=True")
        check_settings({"teacher": teacher, "correction_weight": correction_weight}, inner.config)
        self.teacher = make_teacher(teacher)
        self.correction_weight = float(correction_weight)
        self.relative = RelativeReturn(teacher) if relative_reward else None
        self.n_slots = inner.max_jobs
        self.n_scores = inner.codec.n_scores
        self.action_space = spaces.Box(-1.0, 1.0, (self.n_slots,), dtype=np.float32)
        if not isinstance(env.observation_space, spaces.Dict):
            raise SpecError("ResidualEnv needs the Dict observation (flatten_obs=False)")
        self.observation_space = spaces.Dict(
            {**env.observation_space.spaces, "teacher_score": spaces.Box(-1.0, 1.0, (self.n_slots,), dtype=np.float32)}
        )

    # ----------------------------------------------------------- teacher
    def _teacher_observation(self, obs: dict, info: dict) -> dict:
        """Ask the teacher (once per step: policies may keep state) and add its view to ``obs``."""
        if info["episode_step"] == 0:
            self.teacher.reset(info["view"].static, info["scenario_seed"])
        scores = self.teacher.scores(info["view"], info["events"])
        self._teacher_action = self.env.unwrapped.scores_to_action(scores)
        table = self._teacher_action[: self.n_scores].reshape(-1, self.n_slots)
        best = np.where(obs["job_mask"] > 0, table.max(axis=0), 0.0).astype(np.float32)
        return {**obs, "teacher_score": best}

    def combine(self, correction) -> np.ndarray:
        """The env action: the teacher's action (scaled) plus the weighted correction per slot."""
        correction = np.clip(np.asarray(correction, dtype=np.float32).reshape(-1), -1.0, 1.0)
        if correction.shape != (self.n_slots,):
            raise SpecError(
                f"the correction must have {self.n_slots} entries (one per job slot), got shape {np.shape(correction)}"
            )
        action = self._teacher_action.copy()
        table = action[: self.n_scores].reshape(-1, self.n_slots)
        w = np.float32(self.correction_weight)
        action[: self.n_scores] = ((np.float32(1.0) - w) * table + w * correction[None, :]).reshape(-1)
        return action

    # -------------------------------------------------------------- gym
    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        if self.relative is not None:
            self.relative.reset(self.env.unwrapped)
        return self._teacher_observation(obs, info), info

    def step(self, correction):
        obs, reward, terminated, truncated, info = self.env.step(self.combine(correction))
        if self.relative is not None:
            reward += self.relative.step(self.env.unwrapped, terminated)
        if not (terminated or truncated):
            obs = self._teacher_observation(obs, info)
        else:
            obs = {**obs, "teacher_score": np.zeros(self.n_slots, dtype=np.float32)}
        return obs, float(reward), terminated, truncated, info
