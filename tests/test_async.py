"""Asynchronous (buffered) jobs: keep `participants` devices busy, a round every `buffer_size` results."""

import numpy as np
import pytest
from conftest import job, make_population, make_scenario, simulate

from venn_gym import JobSpec, Workload
from venn_gym import make_scenario as make_registered


def async_job(arrival_s, participants, rounds, buffer_size, name="A"):
    return JobSpec(
        arrival_s=arrival_s,
        requirement="general",
        participants=participants,
        rounds=rounds,
        deadline_s=1000.0,
        workload_s=10.0,
        model_size_mb=5.0,
        mode="async",
        buffer_size=buffer_size,
        name=name,
    )


def test_hand_worked_async_job():
    # Every task takes 10*1 + 16*5/8 = 20 s. Concurrency 2, a round every 2 results, 2 rounds.
    # Devices 0 and 1 check in at t=0 and report at 20: round 1 ends at 20, both slots free.
    # Device 2 checks in at 30, device 3 at 35: results at 50 and 55, round 2 ends at 55.
    pop = make_population([1, 1, 1, 1, 1])
    rows = [(0, 500, 0), (0, 500, 1), (10, 500, 4), (30, 500, 2), (35, 500, 3)]
    sim, result = simulate(make_scenario(pop, rows, [async_job(0, 2, 2, 2)]), "fifo")
    assert result.jobs[0].jct_s == pytest.approx(55.0)
    assert result.jobs[0].rounds_done == 2
    a = sim.assignments()
    # Device 4 (t=10) found both slots busy and got nothing.
    assert sorted(a["device"].tolist()) == [0, 1, 2, 3]


@pytest.mark.parametrize("policy", ["random", "srsf", "venn"])
def test_async_concurrency_is_never_exceeded(policy):
    base = make_registered("paper/low-v0", seed=0, scale=0.02)
    jobs = list(base.workload.jobs[:6]) + [async_job(600.0, 8, 15, 4, name="async")]
    scenario = base.replace(workload=Workload(tuple(jobs)))
    sim, result = simulate(scenario, policy)
    assert result.finished.all()
    j = [r.name for r in result.jobs].index("async")
    a = sim.assignments()
    mine = a["job"] == j
    start = a["time_s"][mine]
    done = np.where(a["success"][mine], a["finish_s"][mine], a["window_end_s"][mine])
    in_flight = [(start <= t).sum() - (done <= t).sum() for t in start]
    assert max(in_flight) <= 8
    assert a["success"][mine].sum() >= 15 * 4  # a round per 4 results, 15 rounds


def test_sync_and_async_jobs_share_devices_without_double_booking():
    pop = make_population([1] * 6)
    rows = [(t, t + 400, d) for t in range(0, 400, 20) for d in range(6)]
    jobs = [async_job(0, 3, 4, 2), job(5, "general", 2, rounds=3, name="S")]
    sim, result = simulate(make_scenario(pop, rows, jobs), "random")
    assert result.finished.all()
    a = sim.assignments()
    for d in range(6):
        mine = a["device"] == d
        order = np.argsort(a["time_s"][mine])
        start, end = a["time_s"][mine][order], a["window_end_s"][mine][order]
        assert (start[1:] >= end[:-1]).all()  # overlapping check-ins of a busy device get nothing


def test_device_env_observation_stays_in_its_box_with_async_jobs():
    """Async slots come back at task ends, which are no scheduling events (a round needs 50
    results here): the env must re-read the open demands, or they fall below zero."""
    import gymnasium as gym

    import venn_gym.envs  # noqa: F401  registers the ids

    base = make_registered("paper/low-v0", seed=0, scale=0.02)
    jobs = [async_job(600.0, 2, 4, 50, name="async"), *base.workload.jobs[:2]]
    env = gym.make("venn_gym/DeviceAssign-v0", scenario=base.replace(workload=Workload(tuple(jobs)))).unwrapped
    obs, info = env.reset(seed=0)
    steps = 0
    while True:
        assert env.observation_space.contains(obs), f"observation outside its space at step {steps}"
        mask = info["action_mask"]
        obs, _, term, trunc, info = env.step(0 if mask[0] else int(np.flatnonzero(mask)[0]))  # async first
        steps += 1
        if term or trunc:
            break
    assert steps > 100
