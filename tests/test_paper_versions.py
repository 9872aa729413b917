"""The versions of the paper scenarios: ``-v0`` keeps its published behaviour, ``-v1`` times
round deadlines from the request and stops at the authors' trace length."""

from __future__ import annotations

import pytest

import venn_gym
from venn_gym.baselines import make_policy
from venn_gym.jobs import paper_mixes

# Mean JCT (s), failed rounds and tasks of paper/<mix>-v0, seed 3, scale 0.02, computed by
# the code before request timing existed (commit 563fadc): -v0 must reproduce them exactly.
V0_PINNED = {
    ("even", "random"): (113490.33307263057, 21, 10291),
    ("even", "srsf"): (73038.10855322905, 16, 11433),
    ("even", "venn"): (64628.462214103376, 29, 11169),
    ("high", "venn"): (86630.73261199029, 0, 13661),
}


def pinned_figures(scenario, policy: str, jct: str) -> tuple:
    summary = venn_gym.run_policy(scenario, make_policy(policy)).summary()
    return summary[jct], summary["failed_rounds"], summary["tasks"]


@pytest.mark.parametrize("mix, policy", sorted(V0_PINNED))
def test_v0_results_are_unchanged(mix, policy):
    scenario = venn_gym.make_scenario(f"paper/{mix}-v0", seed=3, scale=0.02)
    assert (scenario.round_deadline_from, scenario.horizon_s) == ("dispatch", None)
    assert pinned_figures(scenario, policy, "mean_jct_s") == V0_PINNED[mix, policy]


# Censored mean JCT (s), failed rounds and tasks of paper/<mix>-v1, seed 3, scale 0.02, as first
# published: a faster or restructured simulator must reproduce them exactly.
V1_PINNED = {
    ("even", "random-order"): (164216.2045997526, 11150, 14678),
    ("even", "srsf"): (83649.95680028605, 3745, 13377),
    ("even", "venn"): (77467.87133721424, 3935, 13183),
    ("even", "venn-ref"): (84121.13112157462, 4063, 13144),
    ("low", "random"): (59816.97038151594, 7042, 6542),
    ("low", "venn-ref:admission=0.5"): (17577.367118349226, 1566, 3160),
}


@pytest.mark.parametrize("mix, policy", sorted(V1_PINNED))
def test_v1_results_are_pinned(mix, policy):
    scenario = venn_gym.make_scenario(f"paper/{mix}-v1", seed=3, scale=0.02)
    assert pinned_figures(scenario, policy, "mean_jct_censored_s") == V1_PINNED[mix, policy]


def test_every_paper_workload_has_both_versions():
    names = venn_gym.registered_scenarios()
    for mix in paper_mixes():
        v1 = venn_gym.make_scenario(f"paper/{mix}-v1", seed=0, scale=0.02)
        assert f"paper/{mix}-v0" in names
        assert v1.round_deadline_from == "request"
        assert v1.horizon_s == paper_mixes()[mix].trace_days * 86_400.0
    assert venn_gym.DEFAULT_SCENARIO == "paper/even-v1"


def test_v1_rounds_fail_for_lack_of_devices():
    """Same jobs and devices; timing from the request turns rounds that gather their quorum
    too slowly into failures, and every failed round's tasks are counted as wasted."""
    v0 = venn_gym.run_policy(venn_gym.make_scenario("paper/even-v0", seed=3, scale=0.02), make_policy("srsf"))
    v1 = venn_gym.run_policy(venn_gym.make_scenario("paper/even-v1", seed=3, scale=0.02), make_policy("srsf"))
    assert [j.name for j in v0.jobs] == [j.name for j in v1.jobs]
    assert v1.summary()["failed_rounds"] > 10 * v0.summary()["failed_rounds"]
    failed = [r for r in v1.rounds if not r.success]
    assert sum(r.assigned for r in failed) == v1.summary()["wasted_tasks"]
    templates = venn_gym.jobs.paper_templates()
    deadline = {j: templates[int(job.name.rsplit("-t", 1)[1])].deadline_s for j, job in enumerate(v1.jobs)}
    assert all(r.end_s == pytest.approx(r.request_s + deadline[r.job]) for r in failed)


def test_horizon_option_overrides_the_default():
    scenario = venn_gym.make_scenario("paper/low-v1", seed=0, scale=0.02, horizon_s=3600.0)
    assert scenario.horizon_s == 3600.0
