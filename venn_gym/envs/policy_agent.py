"""Heuristic baselines (any :class:`venn_gym.Policy`) acting inside the Gymnasium envs.

``PolicyAgent(policy, env)`` behaves like a Stable-Baselines3 model
(``predict(obs) -> (action, None)``) and reproduces the native
:func:`venn_gym.run_policy` run of the same (scenario, seed) exactly:

* ``DeviceAssign-v0`` (with ``min_choices=1``): it replays ``policy.scores`` at
  every event batch (``info["event_batches"]``), and at a check-in picks among the
  candidates the policy scores best (finite) exactly as the simulator would
  (:func:`venn_gym.matching.pick_target` with the policy's shares); none: idle.
* ``JobPriority-v0``: it turns ``policy.scores`` into the action
  (:meth:`PriorityActionCodec.encode`); class-dependent scores need
  ``per_class_scores=True``, ``-inf`` per tier (Venn's matching) ``tier_choice=True``,
  held rounds (:meth:`Policy.holds`) ``round_hold=True`` with the policy's hold times
  among ``hold_choices_s``.

Call ``act``/``predict`` exactly once per step (policies may keep state).
"""

from __future__ import annotations

import numpy as np

from venn_gym.errors import IllegalActionError
from venn_gym.matching import pick_target
from venn_gym.policy import Policy
from venn_gym.simulation import NO_SHARES

from .device_env import DeviceAssignEnv
from .priority_env import JobPriorityEnv


class PolicyAgent:
    """A heuristic ``policy`` acting in ``env`` (either venn_gym env): ``act(obs, info)`` per step,
    or SB3's ``predict(obs)``. See the module docstring for what each env needs."""

    def __init__(self, policy: Policy, env):
        self.policy = policy
        self.env = env
        self._scores = None

    @property
    def _unwrapped(self):
        return self.env.unwrapped

    def predict(self, obs, state=None, episode_start=None, deterministic: bool = True):
        """SB3-style: the action for the env's current state (uses the env's latest info)."""
        return self.act(obs, self._unwrapped.last_info), None

    def act(self, obs, info: dict):
        env = self._unwrapped
        if info["episode_step"] == 0:  # a new episode
            self.policy.reset(info["view"].static, info["scenario_seed"])
            self._scores = None
            self._shares = NO_SHARES
        if isinstance(env, DeviceAssignEnv):
            return self._device_action(env, info)
        if isinstance(env, JobPriorityEnv):
            view, events = info["view"], info["events"]
            scores = self.policy.scores(view, events)
            shares = self.policy.shares(view, events)  # the order drive() asks in: scores, shares, holds
            return env.scores_to_action(scores, self.policy.holds(view, events), shares)
        raise TypeError(f"PolicyAgent does not know the environment {type(env).__name__}")

    def _device_action(self, env: DeviceAssignEnv, info: dict) -> int:
        st = info["view"].static
        for view, events in info["event_batches"]:
            self._scores = np.broadcast_to(
                np.asarray(self.policy.scores(view, events), dtype=float), (st.n_classes, st.n_jobs)
            )
            shares = self.policy.shares(view, events)
            self._shares = NO_SHARES if shares is None else np.atleast_2d(np.asarray(shares, dtype=float))
            hold_s = self.policy.holds(view, events)
            if hold_s is not None and (np.asarray(hold_s) > 0).any():
                raise IllegalActionError(
                    f"{self.policy.name} holds rounds back, which DeviceAssign-v0 cannot express: "
                    "use JobPriority-v0 with round_hold=True"
                )
        candidates = np.sort(info["job_of_slot"][info["action_mask"][:-1]])
        if self._scores is None or len(candidates) == 0:
            return env.idle_action
        s = self._scores[info["device_class"], candidates]
        finite = np.isfinite(s)
        if not finite.any():
            return env.idle_action
        best = candidates[finite & (s == s[finite].max())]
        row = info["device_class"] if self._shares.shape[0] > 1 else 0
        job = int(pick_target(best, len(best), info["tie_draw"], self._shares, row))
        return int(np.flatnonzero(info["job_of_slot"] == job)[0])
