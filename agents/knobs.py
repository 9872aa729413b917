"""Venn's decision knobs as the action: which Venn variant decides, chosen at every step.

:class:`KnobEnv` wraps ``JobPriority-v0`` (``per_class_scores=True``, ``tier_choice=True``:
the action space in which Venn's decisions are exact). Its action is ``Discrete(len(menu))``;
``menu`` lists Venn variants as policy specs (``baselines.make_policy``), e.g.
``["venn", "venn-no-match", "venn:alpha=1.1", "venn-no-match:alpha=1.1"]``. At each step one
:class:`~venn_gym.baselines.venn.VennPolicy` decides with the chosen variant's take-over margin and
fairness; it draws its tier picks at every round request whatever the choice (so its random
stream is Venn's), and they restrict the round only while the chosen variant matches tiers.
Always choosing ``venn`` is Venn, event for event.

Why these knobs: the paired search in ``benchmarks/venn_knobs.py`` (results/agents.md) found
that, as constants, only tier matching off and a take-over margin slightly above 1 gain
anything over Venn (about 1 %); an agent can choose them per state.

The observation is the env's. The reward, in training, is relative to Venn on the same
scenario seed (:class:`venn_gym.agents.residual.RelativeReturn`): an episode returns (Venn's total
JCT - the agent's) / reward_scale.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from venn_gym.baselines import make_policy
from venn_gym.baselines.venn import VennDecision, VennPolicy
from venn_gym.errors import IllegalActionError, SpecError

from .residual import RelativeReturn

DEFAULTS = {"menu": ["venn", "venn-no-match", "venn:alpha=1.1", "venn-no-match:alpha=1.1"], "relative_reward": True}


def check_settings(settings: dict | None, env_kwargs: dict) -> dict:
    """The knob settings completed with DEFAULTS; clear errors for bad values."""
    settings = dict(DEFAULTS, **(settings or {}))
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise SpecError(f"unknown knobs settings {unknown}; known: {sorted(DEFAULTS)}")
    menu_policies(settings["menu"])
    _check_env_kwargs(env_kwargs)
    return settings


def _check_env_kwargs(env_kwargs: dict) -> None:
    if not (env_kwargs.get("per_class_scores") and env_kwargs.get("tier_choice")):
        raise SpecError(
            "a knobs agent needs env_kwargs per_class_scores: true and tier_choice: true "
            "(the action space in which Venn's decisions are exact)"
        )


def menu_policies(menu) -> list[VennPolicy]:
    """The menu's policies; each must be Venn with its group scheduling."""
    if not isinstance(menu, (list, tuple)) or len(menu) < 2:
        raise SpecError(f"the knobs menu needs at least two Venn variants, got {menu!r}")
    policies = [make_policy(spec) for spec in menu]
    for spec, policy in zip(menu, policies):
        if not (isinstance(policy, VennPolicy) and policy.scheduling):
            raise SpecError(
                f"knobs menu entry {spec!r} is not a Venn variant with scheduling "
                f"(venn, venn-no-match, with options e= and alpha=)"
            )
    return policies


class KnobEnv(gym.Wrapper):
    """See the module docstring. ``env``: a ``JobPriority-v0`` env (possibly wrapped)."""

    def __init__(self, env, menu=DEFAULTS["menu"], relative_reward: bool = DEFAULTS["relative_reward"]):
        super().__init__(env)
        _check_env_kwargs(getattr(env.unwrapped, "config", {}))
        self.menu = list(menu)
        self.variants = menu_policies(self.menu)
        self.venn = make_policy("venn")  # decides, with the chosen variant's knobs
        self.relative = RelativeReturn("venn") if relative_reward else None
        self.action_space = spaces.Discrete(len(self.menu))

    def decide(self, choice) -> np.ndarray:
        """The env action of menu entry ``choice`` at the current events."""
        self.env.unwrapped._check_running()  # the same clear error as the env's before reset / after the end
        choice = np.asarray(choice)
        if choice.size != 1 or not np.issubdtype(choice.dtype, np.integer) or not 0 <= choice.item() < len(self.menu):
            raise IllegalActionError(f"knob choice must be one integer in [0, {len(self.menu)}), got {choice!r}")
        variant = self.variants[choice.item()]
        self.venn.take_over_margin, self.venn.fairness = variant.take_over_margin, variant.fairness
        decision = self.venn.decide(self._info["view"], self._info["events"])
        if not variant.matching:
            decision = VennDecision(decision.job_order, decision.class_group, np.full_like(decision.job_tier, -1))
        return self.env.unwrapped.scores_to_action(decision.scores(self._info["view"].static))

    def reset(self, *, seed=None, options=None):
        obs, self._info = self.env.reset(seed=seed, options=options)
        self.venn.reset(self._info["view"].static, self._info["scenario_seed"])
        if self.relative is not None:
            self.relative.reset(self.env.unwrapped)
        return obs, self._info

    def step(self, choice):
        obs, reward, terminated, truncated, self._info = self.env.step(self.decide(choice))
        if self.relative is not None:
            reward += self.relative.step(self.env.unwrapped, terminated)
        return obs, float(reward), terminated, truncated, self._info
