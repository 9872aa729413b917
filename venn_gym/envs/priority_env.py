"""``venn_gym/JobPriority-v0``: set the job priorities at every scheduling event."""

from __future__ import annotations

import math

import numpy as np

from venn_gym.errors import SpecError

from .actions import PriorityActionCodec
from .base import VennEnvBase


class JobPriorityEnv(VennEnvBase):
    """Event-level scheduling: one step per batch of simultaneous scheduling events
    (``arrival``, ``request``, ``round_end``, ``job_end``; ``horizon``).

    **Action.** A flat ``Box(-1, 1, float32)`` of scores (see
    :mod:`venn_gym.envs.actions` for the layout): one per job slot, or with
    ``per_class_scores=True`` one per (device class, job slot) so that
    class-dependent allocations (Venn's) are expressible exactly; with
    ``tier_choice=True`` one more entry per slot choosing "any tier" or one speed
    tier (other tiers' classes get score ``-inf``: never); with ``round_hold=True`` one more
    entry per slot choosing among ``hold_choices_s``: admit the slot's round (0) or hold it
    back that many seconds, so that it is requested again later instead of asking for devices
    now (:meth:`Simulation.hold_rounds`: only a synchronous round with nothing dispatched and
    not held already can be held; for others the entry is ignored). Until the next event,
    every check-in goes to the highest-scoring eligible job with open demand (ties
    uniformly at random). Only the order of the scores within a device class matters.
    With ``share_allocation=True`` the score entries are shares instead: a device goes to an
    eligible job with open demand at random in proportion to ``2 ** (16 a)``, so that a device
    class can be split between jobs and groups in any proportions.

    **Observation.** As in ``DeviceAssign-v0`` without the device keys:
    ``job_mask``, ``job_requirement``, ``jobs``, ``pool``, ``time_of_day``,
    ``class_supply``, ``tier_response`` (all exact at the event); with ``round_hold=True``
    also ``job_held`` and ``job_holdable`` (see :mod:`venn_gym.envs.observation`).
    ``flatten_obs=True`` returns one flat ``float32`` Box.

    **Reward, episode end, arguments, slots.** As in ``DeviceAssign-v0``: reward
    ``-(increase of total time in system) / reward_scale`` (default scale
    ``3600 * n_jobs``), summing to ``-(total JCT) / reward_scale`` over an
    episode; ``terminated`` when every job has ended, ``truncated`` at ``horizon_s``;
    final ``info`` adds ``jcts_s`` and ``summary``.

    **Info** at every step: ``view`` (the :class:`SchedulerView` at the events),
    ``events`` (this batch), ``job_of_slot``, ``scenario_seed``, ``episode_step``,
    ``reward_scale``, ``time_s``.

    **Versions.** v0: first version; ``round_hold`` added later, off by default (the
    observation and action spaces without it are unchanged). Its default ``scenario`` is
    ``venn_gym.DEFAULT_SCENARIO``: ``paper/even-v1`` (request-timed rounds) since
    scenario v1 exists, ``paper/even-v0`` before; pass ``scenario=`` to pin one.
    """

    _name = "JobPriority-v0"

    @classmethod
    def default_config(cls) -> dict:
        cfg = super().default_config()
        cfg.update(
            per_class_scores=False,  # a score per (device class, job slot) instead of per job slot
            tier_choice=False,  # one more entry per slot: any tier, or restrict the job to one speed tier
            share_allocation=False,  # the score entries are shares: a device class split in proportions
            round_hold=False,  # one more entry per slot: admit its round, or hold it back (hold_choices_s)
            hold_choices_s=(0.0, 300.0, 1200.0, 3600.0),  # seconds; the first must be 0 (admit)
        )
        return cfg

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.codec = PriorityActionCodec(
            self.max_jobs,
            self._obs.max_classes,
            bool(self.config["per_class_scores"]),
            bool(self.config["tier_choice"]),
            self._hold_choices() if self.config["round_hold"] else (),
            bool(self.config["share_allocation"]),
        )
        self.action_space = self.codec.space

    def _holds_in_obs(self) -> bool:
        return bool(self.config["round_hold"])

    def _hold_choices(self) -> tuple[float, ...]:
        try:
            choices = tuple(float(x) for x in self.config["hold_choices_s"])
        except (TypeError, ValueError):
            choices = ()
        if not (
            len(choices) >= 2
            and choices[0] == 0.0
            and all(math.isfinite(x) and x > 0 for x in choices[1:])
            and len(set(choices)) == len(choices)
        ):
            raise SpecError(
                "hold_choices_s must be at least two distinct seconds, the first 0 (admit) and the others "
                f"finite and > 0, got {self.config['hold_choices_s']!r}",
                source=type(self).__name__,
            )
        return choices

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self._start_episode(seed, options)
        self.codec.bind(self.sim.static, self._obs.class_index)
        events = self.sim.advance()
        if events:
            self._on_events(events)
        self._events = events
        return self._observe()

    def step(self, action):
        self._check_running()
        self.sim.set_scores(self.codec.decode(action, self.slots), self.codec.decode_shares(action, self.slots))
        if self.config["round_hold"]:
            self.sim.hold_rounds(self.codec.decode_holds(action, self.slots))
        events = self.sim.advance()
        if events:
            self._on_events(events)
        self._events = events
        self._episode_step += 1
        reward = self._reward()
        terminated, truncated = self._end_flags()
        obs, info = self._observe()
        if terminated or truncated:
            self._final_info(info)
        return obs, reward, terminated, truncated, info

    def scores_to_action(
        self, scores: np.ndarray, hold_s: np.ndarray | None = None, shares: np.ndarray | None = None
    ) -> np.ndarray:
        """The action that reproduces simulator ``scores`` and ``shares`` and holds ``hold_s``
        (seconds per job, each one of ``hold_choices_s``; None: none), for the jobs now in slots."""
        return self.codec.encode(scores, self.slots, hold_s, shares)

    def _observe(self):
        obs = self._output(self._obs.build())
        info = self._base_info()
        info["view"] = self.view
        info["events"] = list(self._events)
        return obs, info
