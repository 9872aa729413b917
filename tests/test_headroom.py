"""The headroom table: its oracle starts from Venn exactly and only keeps improvements, and the
command writes the table."""

from __future__ import annotations

import json

import numpy as np

from baselines import make_policy
from venn_gym.catalog import make_scenario
from venn_gym.cli import main as cli
from venn_gym.headroom import ShiftedPolicy, censored_mean_jct, hindsight_search

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
