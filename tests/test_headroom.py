"""The headroom table: its oracle starts from Venn exactly and only keeps improvements, and the
command writes the table."""

from __future__ import annotations

import json

import numpy as np

from venn_gym.baselines import make_policy
from venn_gym.catalog import make_scenario
from venn_gym.cli import main as cli
from venn_gym.experiments.headroom import ShiftedPolicy, censored_mean_jct, hindsight_search, lp_lower_bound

SCENARIO = dict(scale=0.02)


def test_a_zero_shift_is_venn_and_the_search_never_gets_worse():
    scenario = make_scenario("paper/low-v1", seed=100, **SCENARIO)
    venn = censored_mean_jct(scenario, make_policy("venn"))
    assert censored_mean_jct(scenario, ShiftedPolicy(make_policy("venn"), np.zeros(50))) == venn
    trail = []
    found = hindsight_search(scenario, budget=5, seed=1, on_step=lambda step, best: trail.append(best))
    assert found.start_jct_s == venn and found.best_jct_s <= venn
    assert trail == sorted(trail, reverse=True) and len(trail) == 4
    # the kept shift reproduces the oracle's figure: it is a schedule that was simulated
    assert censored_mean_jct(scenario, ShiftedPolicy(make_policy("venn"), found.shift)) == found.best_jct_s


def test_headroom_command_writes_its_table(tmp_path):
    out = tmp_path / "room"
    command = "headroom --scenarios paper/low-v1 --scale 0.02 --seeds 100, --budget 2 --out".split()
    assert cli([*command, str(out)]) == 0
    rows = json.loads((out / "headroom.json").read_text())
    assert [r["seed"] for r in rows] == [100] and rows[0]["oracle_h"] <= rows[0]["venn_h"]
    table = (out / "headroom.md").read_text()
    assert "| paper/low-v1 | 100 |" in table and "oracle budget 2 simulations per seed" in table


def test_the_lower_bound_is_below_every_policy_and_the_oracle():
    for seed in (100, 101):
        scenario = make_scenario("paper/even-v1", seed=seed, **SCENARIO)
        bound = lp_lower_bound(scenario)
        achieved = [censored_mean_jct(scenario, make_policy(p)) for p in ("random", "fifo", "srsf", "venn")]
        assert 0 < bound <= min(achieved)


def test_the_lower_bound_of_a_hand_worked_case(tiny):
    """One job, one round of one result; its only eligible device checks in at 3,000 s: the bound
    counts that check-in at its slot's start (3,000 s) and nothing can finish before it."""
    pop = tiny.population([1.0, 1.0], 8.0, ["G", "N"])
    scenario = tiny.scenario(
        pop, [(3_000.0, 3_600.0, 0), (10.0, 600.0, 1)], [tiny.job(0, "general", 1)], horizon_s=86_400.0
    )
    assert lp_lower_bound(scenario) == 3_000.0
    _, result = tiny.simulate(scenario, "fifo")
    assert result.jobs[0].jct_s >= 3_000.0
