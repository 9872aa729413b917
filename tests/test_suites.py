"""Benchmark suites: versioned names, test seeds held out from training, every scenario buildable,
and a modified suite never passing for the published one."""

from __future__ import annotations

import re

import pytest

import venn_gym
from venn_gym.cli import main as cli
from venn_gym.errors import SpecError
from venn_gym.suites import SUITES, TRAIN_SEED_MIN, get_suite


@pytest.mark.parametrize("suite", SUITES.values(), ids=lambda s: s.name)
def test_a_suite_is_versioned_held_out_and_buildable(suite):
    assert re.fullmatch(r"[a-z0-9_-]+-v\d+", suite.name)
    assert suite.test_seeds and all(0 <= s < TRAIN_SEED_MIN for s in suite.test_seeds)
    for name in suite.scenarios:
        assert venn_gym.make_scenario(name, seed=suite.test_seeds[0], scale=suite.scale).workload.jobs


def test_the_leaderboard_suite_is_the_latest_paper_version():
    from venn_gym.experiments.leaderboard import DEFAULT_SUITE

    suite = get_suite(DEFAULT_SUITE)
    assert suite.scenarios == tuple(f"paper/{w}-v1" for w in ("even", "low", "high", "res_intensive"))
    assert (suite.scale, suite.test_seeds, suite.seeds_text) == (0.05, (100, 101, 102, 103, 104), "100-104")


def test_a_modified_suite_says_so_and_an_unmodified_one_is_the_suite():
    suite = get_suite("paper-v1")
    assert suite.modified(scale=0.05, test_seeds=range(100, 105)) is suite
    changed = suite.modified(scenarios=["paper/low-v1"], scale=0.02, test_seeds=[100, 102])
    assert changed.name == "paper-v1 (modified: scenarios paper/low-v1, scale 0.02, test seeds 100,102)"
    assert (changed.scenarios, changed.scale, changed.test_seeds) == (("paper/low-v1",), 0.02, (100, 102))


def test_test_seeds_must_stay_held_out_and_names_must_exist():
    with pytest.raises(SpecError, match="held out from training"):
        get_suite("paper-v1").modified(test_seeds=[100, TRAIN_SEED_MIN])
    with pytest.raises(SpecError, match="unknown suite 'paper-v9'; known: paper-v1, paper-v0"):
        get_suite("paper-v9")


def test_suites_command_lists_every_split(capsys):
    assert cli(["suites"]) == 0
    printed = capsys.readouterr().out
    for suite in SUITES.values():
        assert f"{suite.name}: " in printed and f"test seeds: {suite.seeds_text}" in printed
    assert f"scenario seeds >= {TRAIN_SEED_MIN}" in printed
