"""What both Gymnasium environments share: configuration, scenario building and
seeding, job slots, the JCT reward and the end of an episode."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from venn_gym.catalog import DEFAULT_SCENARIO, make_scenario
from venn_gym.errors import SpecError, VennGymError
from venn_gym.scenario import Scenario
from venn_gym.simulation import Simulation
from venn_gym.view import SchedulerView

from .observation import ObservationBuilder
from .slots import JobSlots

_MISSING = object()


# Observation and action slots are allocated per slot: a bound keeps a typo from taking all memory.
MAX_SLOTS = 100_000

# Info entries holding the simulator's own objects, for policies and wrappers in the env's process
# (large to pickle: a vectorised env with worker processes keeps them there).
IN_PROCESS_INFO_KEYS = ("view", "events")


class VennEnvBase(gym.Env):
    """Base of the venn_gym environments (see their docstrings for the contract)."""

    metadata = {"render_modes": []}
    _name = "venn_gym"

    @classmethod
    def default_config(cls) -> dict:
        return {
            "scenario": DEFAULT_SCENARIO,  # registered name, scenario file, or a Scenario object (used as is)
            "scenario_options": {},  # passed to make_scenario, e.g. {"scale": 0.05}
            "max_jobs": None,  # job slots; None: the first scenario's number of jobs
            "max_requirements": None,  # None: the first scenario's number of requirements
            "max_tiers": None,  # None: the first scenario's speed tiers
            "horizon_s": None,  # truncate the episode at this simulated time (None: run to the end)
            "reward_scale": None,  # reward = -(delta total time in system) / reward_scale; None: 3600 * n_jobs
            "flatten_obs": False,  # return one flat float32 Box instead of the Dict
            "keep_rounds": False,  # keep per-round records in the simulator (only for the final result)
        }

    def __init__(
        self,
        scenario=_MISSING,
        scenario_options=_MISSING,
        max_jobs=_MISSING,
        config: dict | None = None,
        render_mode: str | None = None,
        **kwargs,
    ):
        cfg = self.default_config()
        updates = dict(config or {})
        updates.update(kwargs)
        for key, value in (("scenario", scenario), ("scenario_options", scenario_options), ("max_jobs", max_jobs)):
            if value is not _MISSING:
                updates[key] = value
        unknown = sorted(set(updates) - set(cfg))
        if unknown:
            raise SpecError(f"unknown config keys {unknown}; known: {sorted(cfg)}", source=type(self).__name__)
        cfg.update(updates)
        cfg["scenario_options"] = dict(cfg["scenario_options"] or {})
        self.config = cfg
        if render_mode is not None:
            raise SpecError(f"render_mode {render_mode!r} is not supported (no rendering)")
        self.render_mode = None
        self._scenario_cache: tuple | None = None
        first = self._build_scenario(cfg["scenario"], cfg["scenario_options"], 0)
        static = Simulation(first).static
        for key, value in (
            ("max_jobs", static.n_jobs),
            ("max_requirements", static.n_requirements),
            ("max_tiers", static.speed_tiers),
        ):
            if cfg[key] is None:
                cfg[key] = int(value)
            elif not (
                isinstance(cfg[key], (int, np.integer))
                and not isinstance(cfg[key], bool)
                and 1 <= cfg[key] <= MAX_SLOTS
            ):
                raise SpecError(
                    f"{key} must be an integer in [1, {MAX_SLOTS:,}], got {cfg[key]!r}", source=type(self).__name__
                )
        self.max_jobs = int(cfg["max_jobs"])
        self._obs = ObservationBuilder(
            self.max_jobs,
            int(cfg["max_requirements"]),
            int(cfg["max_tiers"]),
            device=self._device_env,
            mask_in_obs=self._mask_in_obs(),
            holds=self._holds_in_obs(),
        )
        self._dict_space = self._obs.space
        self.observation_space = spaces.flatten_space(self._dict_space) if cfg["flatten_obs"] else self._dict_space
        self.sim: Simulation | None = None
        self.scenario: Scenario | None = None

    _device_env = False

    def _mask_in_obs(self) -> bool:
        return False

    def _holds_in_obs(self) -> bool:
        return False

    # -------------------------------------------------------------- scenario
    def _build_scenario(self, scenario, options: dict, seed: int) -> Scenario:
        if isinstance(scenario, Scenario):
            sc = scenario
        elif isinstance(scenario, str):
            key = (scenario, seed, tuple(sorted((k, repr(v)) for k, v in options.items())))
            if self._scenario_cache is not None and self._scenario_cache[0] == key:
                sc = self._scenario_cache[1]
            else:
                sc = make_scenario(scenario, seed=seed, **options)
                self._scenario_cache = (key, sc)
        else:
            raise SpecError(f"scenario must be a registered name, a file path or a Scenario, got {scenario!r}")
        horizon = self.config["horizon_s"]
        if horizon is not None and sc.horizon_s != horizon:
            sc = sc.replace(horizon_s=float(horizon))
        return sc

    def _start_episode(self, seed: int | None, options: dict | None) -> None:
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = sorted(set(options) - {"scenario", "scenario_options"})
        if unknown:
            raise SpecError(f"unknown reset options {unknown}; known: ['scenario', 'scenario_options']")
        if "scenario" in options:
            self.config["scenario"] = options["scenario"]
        if "scenario_options" in options:
            self.config["scenario_options"] = dict(options["scenario_options"] or {})
        if seed is None:
            seed = int(self.np_random.integers(2**31 - 1))
        self.scenario = self._build_scenario(self.config["scenario"], self.config["scenario_options"], seed)
        self.sim = Simulation(self.scenario, keep_rounds=bool(self.config["keep_rounds"]))
        static = self.sim.static
        self.slots = JobSlots(self.max_jobs, static.n_jobs)
        self._obs.bind(static, self.scenario.trace.mean_rate_per_s())
        scale = self.config["reward_scale"]
        self.reward_scale = float(scale) if scale is not None else 3600.0 * static.n_jobs
        if not self.reward_scale > 0:
            raise SpecError(f"reward_scale must be > 0, got {scale}")
        self._elapsed = 0.0
        self._ended_jobs = 0
        self._episode_step = 0
        self._over = False
        self.view: SchedulerView | None = None

    def _on_events(self, events) -> SchedulerView:
        """Follow a batch of scheduling events: slots, job ends, a fresh view and observation."""
        self.slots.update(events)
        self._ended_jobs += sum(1 for e in events if e.kind == "job_end")
        self.view = self.sim.observe()
        self._obs.refresh(self.view, self.slots, self.sim.holdable() if self._obs.holds else None)
        return self.view

    def _reward(self) -> float:
        elapsed = self.sim.elapsed_jct_s()
        reward = -(elapsed - self._elapsed) / self.reward_scale
        self._elapsed = elapsed
        return float(reward)

    def _end_flags(self) -> tuple[bool, bool]:
        if not self.sim.done:
            return False, False
        terminated = self._ended_jobs >= self.sim.static.n_jobs
        return terminated, not terminated

    def _final_info(self, info: dict) -> None:
        result = self.sim.result(self._name)
        info["jcts_s"] = np.array([j.jct_s for j in result.jobs])
        info["summary"] = result.summary()
        self._over = True

    def _check_running(self) -> None:
        if self.sim is None:
            raise VennGymError("call reset() before step()")
        if self._over:
            raise VennGymError("the episode is over (terminated or truncated): call reset()")

    def _output(self, obs: dict):
        if self.config["flatten_obs"]:
            return spaces.flatten(self._dict_space, obs).astype(np.float32, copy=False)
        return obs

    def _base_info(self) -> dict:
        self.last_info = info = {
            "job_of_slot": self.slots.job_of_slot.copy(),
            "scenario_seed": int(self.scenario.seed),
            "episode_step": self._episode_step,
            "reward_scale": self.reward_scale,
            "time_s": float(self._obs.now),
        }
        return info
