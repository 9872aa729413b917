"""``venn_gym/DeviceAssign-v0``: assign each checking-in device to a job (or leave it idle)."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from venn_gym.errors import IllegalActionError, SpecError
from venn_gym.jobs import ASYNC

from .base import VennEnvBase


class DeviceAssignEnv(VennEnvBase):
    """Device-level scheduling: one step per check-in at which there is a choice.

    **Steps.** The simulator runs until a device checks in that is eligible for at
    least ``min_choices`` jobs with open demand (and is not busy); the agent then
    decides where that device goes. With ``min_choices=2``, a check-in with a
    single option goes to that job without a step. Scheduling events (arrivals,
    requests, round ends, job ends) happen between steps.

    **Action.** ``Discrete(max_jobs + 1)``: job slot ``k`` (the job in slot ``k``,
    see ``info["job_of_slot"]``) or ``max_jobs`` = leave the device idle (always
    legal). An action outside the mask raises :class:`venn_gym.IllegalActionError`
    (config ``illegal_action="idle"`` turns it into "idle" instead, e.g. for
    checkers that sample unmasked actions).

    **Action mask.** One function, three ways: ``env.action_masks()`` (for
    sb3-contrib's MaskablePPO), ``info["action_mask"]``, and with
    ``mask_in_obs=True`` an ``"action_mask"`` key in the observation. ``True``
    for the slots of the eligible jobs with open demand, and for idle.

    **Observation.** A ``Dict`` of bounded arrays (see
    :mod:`venn_gym.envs.observation`): ``job_mask`` ``MultiBinary(M)``,
    ``job_requirement`` ``(M, R)``, ``jobs`` ``(M, len(JOB_FEATURES))``, ``pool``,
    ``time_of_day`` (sin, cos), ``class_supply`` ``(C,)``, ``tier_response``
    ``(T,)``, and for the checking-in device ``device`` (window left, choices),
    ``device_class`` ``(C,)`` and ``device_tier`` ``(T,)`` one-hot,
    ``device_requirements`` ``(R,)`` and ``job_eligible`` ``MultiBinary(M)``.
    Job features that change with every assignment (open demand) or with time
    (age) are exact at every step; group queue and supply features are refreshed
    at scheduling events. ``flatten_obs=True`` returns one flat ``float32`` Box.

    **Reward.** ``-(increase of the total time in system of all jobs) / reward_scale``,
    accumulated at every simulator event (``Simulation.elapsed_jct_s`` differences;
    the first step also counts the time before the first decision). Over an
    episode the rewards sum to ``-(total JCT) / reward_scale`` (with a horizon:
    total time in system up to it). ``reward_scale`` defaults to ``3600 * n_jobs``
    (so the return is minus the mean JCT in hours).

    **Episode end.** ``terminated`` when every job has ended; ``truncated`` at
    ``horizon_s``. The final ``info`` adds ``jcts_s`` (per job; unfinished jobs:
    time in system so far), ``summary`` (:meth:`RunResult.summary`).

    **Info** at every step: ``action_mask``, ``tie_draw`` (the check-in's uniform
    draw that the simulator's own tie-breaking uses: ``candidates[int(tie_draw *
    len(candidates))]`` where ``candidates`` are the legal jobs in ascending id,
    ``np.sort(job_of_slot[action_mask[:-1]])``), ``device_class``
    (simulator class id), ``events`` (scheduling events since the previous step),
    ``event_batches`` (``[(view, events), ...]`` per simulator event batch, in
    order), ``view`` (the :class:`SchedulerView` at the latest scheduling event;
    with ``view_every_step=True`` a fresh one at every step), ``job_of_slot``,
    ``scenario_seed``, ``episode_step``, ``reward_scale``, ``time_s``.

    **Arguments.** ``scenario`` (name or :class:`Scenario`), ``scenario_options``
    (dict for ``make_scenario``), ``max_jobs`` and the keys of
    :meth:`default_config` (as keyword arguments or ``config=``).
    ``reset(seed=s)`` builds ``make_scenario(name, seed=s, **scenario_options)``
    (``seed=None``: drawn from the env's ``np_random``; a Scenario object is used
    as is, with its own seed); ``reset(options={"scenario": ..., "scenario_options":
    ...})`` switches scenario (kept for later resets). If more jobs are in the
    system than ``max_jobs``, :class:`TooManyJobsError` is raised.

    **Versions.** v0: first version. Its default ``scenario`` is
    ``venn_gym.DEFAULT_SCENARIO``: ``paper/even-v1`` (request-timed rounds) since
    scenario v1 exists, ``paper/even-v0`` before; pass ``scenario=`` to pin one. A fix
    kept in v0 (synchronous scenarios, the paper's, see the same observations): with async
    jobs the open demands are re-read at every step, as slots freed by task ends without a
    scheduling event had left them below zero, outside the observation space.
    """

    _device_env = True
    _name = "DeviceAssign-v0"

    @classmethod
    def default_config(cls) -> dict:
        cfg = super().default_config()
        cfg.update(
            min_choices=1,  # step only at check-ins with at least this many options
            mask_in_obs=False,  # add the action mask to the observation
            illegal_action="raise",  # "raise" (IllegalActionError) or "idle"
            view_every_step=False,  # info["view"]: fresh at every step (costs a simulator observe())
        )
        return cfg

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if int(self.config["min_choices"]) < 1:
            raise SpecError(f"min_choices must be >= 1, got {self.config['min_choices']}")
        if self.config["illegal_action"] not in ("raise", "idle"):
            raise SpecError(f"illegal_action must be 'raise' or 'idle', got {self.config['illegal_action']!r}")
        self._k = int(self.config["min_choices"])
        self.action_space = spaces.Discrete(self.max_jobs + 1)
        self.idle_action = self.max_jobs
        self._mask = np.zeros(self.max_jobs + 1, dtype=bool)

    def _mask_in_obs(self) -> bool:
        return bool(self.config["mask_in_obs"])

    # ------------------------------------------------------------------ API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self._start_episode(seed, options)
        self._has_async = any(job.mode == ASYNC for job in self.scenario.workload.jobs)
        self.sim.set_scores(np.zeros(self.sim.static.n_jobs))
        self._pc = None
        batches = self._run_to_checkin()
        if self._pc is None:
            raise SpecError("the scenario ended before any device had a choice: nothing to decide")
        obs, info = self._observe(batches)
        return obs, info

    def step(self, action):
        self._check_running()
        a = self._action_index(action)
        if not self._mask[a]:
            if self.config["illegal_action"] == "raise":
                raise IllegalActionError(
                    f"action {a} (slot of job {int(self.slots.job_of_slot[a])}) is masked out at this check-in of a "
                    f"class-{self._pc.device_class} device: legal actions are {np.flatnonzero(self._mask).tolist()} "
                    f"({self.idle_action} = idle); use env.action_masks() or info['action_mask']"
                )
            a = self.idle_action
        job = -1 if a == self.idle_action else int(self.slots.job_of_slot[a])
        self.sim.decide(job)
        if job >= 0:
            self._obs.job_assigned(job, a)
        self._episode_step += 1
        batches = self._run_to_checkin()
        reward = self._reward() if batches else 0.0  # simulated time only moves at scheduling events
        terminated, truncated = self._end_flags()
        obs, info = self._observe(batches)
        if terminated or truncated:
            self._final_info(info)
        return obs, reward, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """Legal actions at the pending check-in (bool, length ``max_jobs + 1``; idle last)."""
        return self._mask.copy()

    # ------------------------------------------------------------ internals
    def _action_index(self, action) -> int:
        if type(action) is int or isinstance(action, np.integer):
            a = int(action)
            if 0 <= a <= self.max_jobs:
                return a
        arr = np.asarray(action)
        if arr.size != 1 or arr.dtype.kind not in "iub":
            raise IllegalActionError(f"action must be one integer in [0, {self.max_jobs}], got {action!r}")
        a = int(arr.reshape(-1)[0])
        if not 0 <= a <= self.max_jobs:
            raise IllegalActionError(f"action {a} is out of range [0, {self.max_jobs}] ({self.max_jobs} = idle)")
        return a

    def _run_to_checkin(self) -> list:
        batches = []
        sim = self.sim
        self._pc = None
        while True:
            events = sim.advance(stop_at_choices=self._k)
            if events:
                batches.append((self._on_events(events), events))
            if sim.done:
                break
            if not events:
                self._pc = sim.pending_checkin
                break
        if self._pc is not None:
            # The simulator matched single-option check-ins on its own, or async tasks ended (their
            # open slots come back without a scheduling event): read the open demands afresh.
            if self._k > 1 or self._has_async:
                self._obs.set_open(sim.observe().open_demand)
            self._obs.set_time(self._pc.time_s)
        self._compute_mask()
        return batches

    def _compute_mask(self) -> None:
        """The one place where legality is decided."""
        m = self._mask
        m[:] = False
        m[self.idle_action] = True
        if self._pc is not None:
            m[self.slots.slot_of_job[self._pc.candidates]] = True

    def _observe(self, batches):
        pc = self._pc
        obs = self._output(self._obs.build(pc, self._mask))
        info = self._base_info()
        info["action_mask"] = self._mask.copy()
        info["tie_draw"] = pc.tie_draw if pc is not None else 0.0
        info["device_class"] = pc.device_class if pc is not None else -1
        info["events"] = [e for _, evs in batches for e in evs]
        info["event_batches"] = batches
        if self.config["view_every_step"] and pc is not None:
            info["view"] = self.sim.observe()
        else:
            info["view"] = self.view
        return obs, info
