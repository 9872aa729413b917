"""The hindsight oracle's schedule space (venn_gym/experiments/oracle.py): its origin is Venn
event for event, each setting does what it says, and the search is deterministic and never
worse than its start."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import job, make_population, make_scenario, simulate

from venn_gym import make_scenario as make_registered
from venn_gym.baselines import make_policy
from venn_gym.experiments.oracle import OracleSchedule, OracleSettings, hindsight_search
from venn_gym.policy import run_policy
from venn_gym.simulation import Simulation


def settings_for(scenario) -> OracleSettings:
    static = Simulation(scenario).static
    return OracleSettings.venn(static.n_jobs, static.n_classes)


@pytest.mark.parametrize("name", ["paper/low-v1", "paper/even-v0"])
def test_the_origin_of_the_space_is_venn_event_for_event(name):
    sc = make_registered(name, seed=7, scale=0.01)
    venn = run_policy(sc, make_policy("venn"))
    origin = run_policy(sc, OracleSchedule(make_policy("venn"), settings_for(sc)))
    assert venn.job_rows() == [{**r, "policy": "venn"} for r in origin.job_rows()]
    assert venn.rounds == origin.rounds


def test_a_backoff_holds_the_retry_of_a_failed_round():
    """One job, 2 participants, deadline 100: d0 at 0 and d1 at 90 start the first round, which
    fails at 100 (quorum at 110). With a 100 s backoff the retry is requested at 200 (held from
    100): d2 at 150 is not used; d3 at 210 -> 230, d4 at 220 -> 240: closes at 240."""
    pop = make_population([1.0] * 5)
    rows = [(0, 1000, 0), (90, 1000, 1), (150, 1000, 2), (210, 1000, 3), (220, 1000, 4)]
    sc = make_scenario(pop, rows, [job(0, "general", 2, deadline_s=100.0)])
    settings = settings_for(sc)
    settings.backoff_s[0] = 100.0
    sim, res = simulate(sc, OracleSchedule(make_policy("venn"), settings))
    (j,) = res.jobs
    assert (j.jct_s, j.failed_rounds, j.held_s) == (240.0, 1, 100.0)
    np.testing.assert_array_equal(sim.assignments()["device"], [0, 1, 3, 4])


def test_a_split_class_serves_the_best_job_of_another_group_too():
    """Two groups on the same devices ("general" and "any_device", one job each): without a split
    Venn gives every check-in to one of them until it fills; with split 0.5 both get devices from
    the start."""
    n = 40
    pop = make_population([1.0] * n)
    rows = [(float(i), 5000.0, i) for i in range(n)]
    jobs = [
        job(0, "general", 20, deadline_s=4000.0),
        job(0, "any_device", 20, deadline_s=4000.0),
    ]
    sc = make_scenario(pop, rows, jobs)
    first_ten = {}
    for split in (1.0, 0.5):
        settings = settings_for(sc)
        settings.split[:] = split
        sim, _ = simulate(sc, OracleSchedule(make_policy("venn"), settings))
        a = sim.assignments()
        first_ten[split] = set(a["job"][np.argsort(a["time_s"], kind="stable")][:10].astype(int).tolist())
    assert len(first_ten[1.0]) == 1
    assert first_ten[0.5] == {0, 1}


def test_the_search_is_deterministic_and_never_worse_than_venn():
    sc = make_registered("paper/low-v1", seed=3, scale=0.01)
    a, b = hindsight_search(sc, budget=12, seed=3), hindsight_search(sc, budget=12, seed=3)
    assert a.best_jct_s == b.best_jct_s and a.settings.as_dict() == b.settings.as_dict()
    assert a.best_jct_s <= a.start_jct_s
    assert a.accepted == sum(a.accepted_by_move.values())
    replay = run_policy(sc, OracleSchedule(make_policy("venn"), a.settings)).summary()
    assert replay["mean_jct_censored_s"] == a.best_jct_s
