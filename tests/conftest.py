"""Helpers to build tiny, deterministic scenarios by hand and run policies on them.

The helpers are exposed as fixtures (``tiny``) so that test modules need no
import of this file. Units: seconds, MB, Mbit/s.

Category masks (bit i-1 for category i): general 0b0001, compute_rich 0b0010,
memory_rich 0b0100, high_performance 0b1000. ``CATS`` names the usual device
kinds of the paper's eligibility sample.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Iterable, Sequence

import numpy as np
import pytest

from venn_gym import baselines
from venn_gym.devices import DevicePopulation
from venn_gym.errors import SpecError
from venn_gym.jobs import ASYNC, JobSpec, Workload
from venn_gym.policy import Policy, drive
from venn_gym.requirements import CATEGORY_ATTRIBUTE
from venn_gym.scenario import Scenario
from venn_gym.simulation import Simulation
from venn_gym.trace import TableTrace

DAY_S = 86_400.0
LONG_PERIOD_S = 10 * DAY_S  # table traces repeat every 10 days: nothing repeats in a tiny test

CATS = {
    "G": 0b0001,  # general only
    "C": 0b0011,  # general + compute_rich
    "M": 0b0101,  # general + memory_rich
    "H": 0b1111,  # all four (high_performance)
    "N": 0b0000,  # none
}


def make_population(
    compute_factor: Sequence[float],
    bandwidth_mbps: Sequence[float] | float = 8.0,
    categories: Sequence[int | str] | int | str = "G",
    **attributes: Sequence[float],
) -> DevicePopulation:
    """Devices 0..n-1 with the given speeds; ``categories`` are masks or keys of CATS."""
    n = len(compute_factor)
    bw = np.broadcast_to(np.asarray(bandwidth_mbps, dtype=float), (n,)).copy()
    cats = categories if isinstance(categories, (list, tuple, np.ndarray)) else [categories] * n
    masks = np.array([CATS[c] if isinstance(c, str) else int(c) for c in cats], dtype=np.uint8)
    attrs = {CATEGORY_ATTRIBUTE: masks, **{k: np.asarray(v, dtype=float) for k, v in attributes.items()}}
    return DevicePopulation(np.asarray(compute_factor, dtype=float), bw, attrs, source="test population")


def make_trace(rows: Iterable[tuple[float, float, int]], period_s: float = LONG_PERIOD_S) -> TableTrace:
    """A table trace from explicit (start, end, device) rows."""
    rows = list(rows)
    start, end, device = (np.array(col) for col in zip(*rows))
    return TableTrace(
        start=start.astype(float),
        end=end.astype(float),
        device=device.astype(np.int64),
        period_s=period_s,
        source="test trace",
    )


def job(
    arrival_s: float,
    requirement,
    participants: int,
    rounds: int = 1,
    deadline_s: float = 1000.0,
    quorum: float = 1.0,
    workload_s: float = 10.0,
    model_size_mb: float = 5.0,
    name: str = "",
) -> JobSpec:
    """A synchronous job. Defaults: task time on a device with compute 1, bandwidth 8
    is 10 * 1 + 16 * 5 / 8 = 20 s; every participant must report (quorum 1.0)."""
    return JobSpec(
        arrival_s=arrival_s,
        requirement=requirement,
        participants=participants,
        rounds=rounds,
        deadline_s=deadline_s,
        quorum=quorum,
        workload_s=workload_s,
        model_size_mb=model_size_mb,
        name=name,
    )


def draw_jobs(draw, requirements: Sequence, deadlines: Sequence[float], async_one_in: int) -> list[JobSpec]:
    """1-4 small jobs for the property tests (hypothesis ``draw``): 1-4 participants, 1-3 rounds,
    arrivals in the first 4,000 s; one in ``async_one_in`` asynchronous, the others synchronous
    with a deadline from ``deadlines`` and a quorum of 0.5, 0.8 or 1."""
    from hypothesis import strategies as st

    jobs = []
    for k in range(draw(st.integers(1, 4))):
        participants = draw(st.integers(1, 4))
        common = dict(
            arrival_s=float(draw(st.integers(0, 4000))),
            requirement=draw(st.sampled_from(list(requirements))),
            participants=participants,
            rounds=draw(st.integers(1, 3)),
            workload_s=float(draw(st.sampled_from([1, 10, 60]))),
            model_size_mb=float(draw(st.sampled_from([0, 1, 10]))),
            name=f"j{k}",
        )
        if draw(st.integers(0, async_one_in - 1)) == 0:
            jobs.append(
                JobSpec(deadline_s=1000.0, mode=ASYNC, buffer_size=draw(st.integers(1, participants)), **common)
            )
        else:
            deadline = float(draw(st.sampled_from(list(deadlines))))
            jobs.append(job(deadline_s=deadline, quorum=draw(st.sampled_from([0.5, 0.8, 1.0])), **common))
    return jobs


def scenario_or_reject(options: dict) -> Scenario:
    """``Scenario(**options)`` for a property test; a drawn scenario that ``device_once_per_round``
    makes impossible (a job asking for more devices than can serve it) is rejected (hypothesis)."""
    from hypothesis import assume

    try:
        return Scenario(**options)
    except SpecError:
        assume(not options["device_once_per_round"])
        raise


def make_scenario(
    population: DevicePopulation,
    rows: Iterable[tuple[float, float, int]],
    jobs: Sequence[JobSpec],
    seed: int = 0,
    name: str = "test/tiny-v0",
    period_s: float = LONG_PERIOD_S,
    **settings,
) -> Scenario:
    """A scenario without task-time noise and with one speed tier (unless overridden)."""
    settings.setdefault("task_noise_log_sd", 0.0)
    settings.setdefault("speed_tiers", 1)
    settings.setdefault("max_sim_days", 30.0)
    return Scenario(
        name=name,
        seed=seed,
        population=population,
        trace=make_trace(rows, period_s),
        workload=Workload(tuple(jobs), name=name),
        **settings,
    )


def as_policy(policy: str | Policy) -> Policy:
    return baselines.make_policy(policy) if isinstance(policy, str) else policy


def simulate(scenario: Scenario, policy: str | Policy, keep_rounds: bool = True):
    """Run like venn_gym.run_policy, but keep the Simulation (with its assignments)."""
    policy = as_policy(policy)
    sim = Simulation(scenario, keep_rounds=keep_rounds, record_assignments=True)
    drive(sim, policy)
    return sim, sim.result(policy.name)


def jcts(result) -> tuple[float, ...]:
    """Per-job JCTs in job order (all jobs must have finished)."""
    assert all(j.finished for j in result.jobs), [j.name for j in result.jobs if not j.finished]
    return tuple(j.jct_s for j in result.jobs)


@pytest.fixture
def tiny() -> SimpleNamespace:
    """The builders above, as one namespace: tiny.population(...), tiny.scenario(...), ..."""
    return SimpleNamespace(
        CATS=CATS,
        population=make_population,
        trace=make_trace,
        job=job,
        scenario=make_scenario,
        simulate=simulate,
        jcts=jcts,
    )


@pytest.fixture
def ppo_interrupted_after_one_rollout(monkeypatch):
    """PPO.learn trains 64 steps, then raises KeyboardInterrupt (a Ctrl-C); returns the real learn."""
    from stable_baselines3 import PPO

    learn = PPO.learn

    def interrupted(self, *args, **kwargs):
        kwargs["total_timesteps"] = 64
        learn(self, *args[1:], **kwargs) if args else learn(self, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(PPO, "learn", interrupted)
    return learn
