"""The Gymnasium environments (venn_gym.envs): API conformance, determinism,
pickling, vectorisation, masks, the JCT reward, baseline reproduction, training smoke."""

from __future__ import annotations

import pickle
import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from gymnasium.utils.env_checker import data_equivalence
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import venn_gym
from venn_gym import IllegalActionError
from venn_gym.baselines import make_policy
from venn_gym.envs import ENV_IDS, DeviceAssignEnv, JobPriorityEnv, PolicyAgent, TooManyJobsError

DEVICE, PRIORITY = ENV_IDS
SMALL = {"scenario": "paper/low-v0", "scenario_options": {"scale": 0.02}}

# Warnings allowed while checking the envs (matched against the message):
WARNING_WHITELIST = (
    # SB3's advice for 2-D Box observations (obs["jobs"], obs["job_requirement"]): MultiInputPolicy
    # flattens them; flatten_obs=True gives a 1-D Box.
    r"has an unconventional shape \(neither an image, nor a 1D vector\)",
)

# Checker variants: every registered id, plus the option combinations that change the spaces.
# check_env samples unmasked actions, so the device env turns illegal ones into "idle" there.
CHECK_VARIANTS = [
    (DEVICE, {"illegal_action": "idle"}),
    (DEVICE, {"illegal_action": "idle", "mask_in_obs": True, "flatten_obs": True}),
    (DEVICE, {"illegal_action": "idle", "min_choices": 2, "max_jobs": 30}),
    (PRIORITY, {}),
    (PRIORITY, {"per_class_scores": True, "tier_choice": True, "flatten_obs": True}),
]


def test_every_id_is_registered_and_covered():
    registered = {k for k in gym.registry if k.startswith("venn_gym/")}
    assert registered == set(ENV_IDS)
    assert {env_id for env_id, _ in CHECK_VARIANTS} == registered


def make(env_id, **kw):
    return gym.make(env_id, **{**SMALL, **kw})


def random_action(env, info, rng):
    """A random legal action: masked for the device env, uniform for the priority env."""
    if isinstance(env.unwrapped, DeviceAssignEnv):
        legal = np.flatnonzero(info["action_mask"])
        return int(legal[rng.integers(len(legal))])
    return rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)


def unexpected(records):
    return [
        str(w.message) for w in records if not any(re.search(pattern, str(w.message)) for pattern in WARNING_WHITELIST)
    ]


# ------------------------------------------------------------------ API conformance
@pytest.mark.parametrize("checker", [gym_check_env, sb3_check_env], ids=["gymnasium", "sb3"])
@pytest.mark.parametrize("env_id,kw", CHECK_VARIANTS, ids=lambda x: str(x))
def test_check_env(env_id, kw, checker):
    env = make(env_id, **kw)
    env.unwrapped.action_space.seed(0)  # the checkers sample actions: the same ones every run
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        checker(env.unwrapped)
    assert unexpected(records) == []


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_flatten_observation_wrapper(env_id):
    env = gym.wrappers.FlattenObservation(make(env_id))
    obs, info = env.reset(seed=1)
    assert obs.ndim == 1 and obs in env.observation_space
    obs, *_ = env.step(random_action(env, info, np.random.default_rng(0)))
    assert obs in env.observation_space


# ------------------------------------------------------------------ determinism, pickling
def rollout(env, seed, steps, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    out = [env.reset(seed=seed)]
    for _ in range(steps):
        obs, reward, term, trunc, info = env.step(random_action(env, out[-1][-1], rng))
        out.append((obs, reward, term, trunc, info))
        if term or trunc:
            break
    return out


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_same_actions_same_everything(env_id):
    a = rollout(make(env_id), seed=7, steps=300)
    b = rollout(make(env_id), seed=7, steps=300)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert data_equivalence(x, y, exact=True)
    c = rollout(make(env_id), seed=8, steps=5)
    assert not data_equivalence(a[:6], c[:6], exact=True)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_reset_without_seed_draws_from_np_random(env_id):
    env = make(env_id)
    env.reset(seed=3)
    first = env.reset()[1]["scenario_seed"]
    env.reset(seed=3)
    assert env.reset()[1]["scenario_seed"] == first


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_pickle_round_trip_continues_identically(env_id):
    env = make(env_id)
    rng = np.random.default_rng(0)
    obs, info = env.reset(seed=2)
    for _ in range(25):
        obs, _, _, _, info = env.step(random_action(env, info, rng))
    clone = pickle.loads(pickle.dumps(env))
    for _ in range(50):
        action = random_action(env, info, rng)
        step_a = env.step(action)
        step_b = clone.step(action)
        assert data_equivalence(step_a, step_b, exact=True)
        info = step_a[-1]


# ------------------------------------------------------------------ vectorisation
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_make_vec(env_id, mode):
    envs = gym.make_vec(env_id, num_envs=2, vectorization_mode=mode, **SMALL)
    try:
        obs, infos = envs.reset(seed=[0, 1])
        assert obs in envs.observation_space
        rng = np.random.default_rng(0)
        for _ in range(30):
            if env_id == DEVICE:
                actions = np.array([int(rng.choice(np.flatnonzero(m))) for m in infos["action_mask"]])
            else:
                actions = envs.action_space.sample()
            obs, rewards, term, trunc, infos = envs.step(actions)
            assert obs in envs.observation_space and np.isfinite(rewards).all()
    finally:
        envs.close()


# ------------------------------------------------------------------ robustness, masks
def test_device_env_10000_random_masked_steps():
    env = DeviceAssignEnv(**SMALL)
    rng = np.random.default_rng(0)
    obs, info = env.reset(seed=0)
    for _ in range(10_000):
        assert np.array_equal(env.action_masks(), info["action_mask"])
        obs, reward, term, trunc, info = env.step(random_action(env, info, rng))
        assert obs in env.observation_space and np.isfinite(reward) and reward <= 0
        if term or trunc:
            obs, info = env.reset()


def test_priority_env_random_actions():
    env = JobPriorityEnv(**SMALL, per_class_scores=True, tier_choice=True)
    rng = np.random.default_rng(0)
    obs, info = env.reset(seed=0)
    for _ in range(10_000):
        obs, reward, term, trunc, info = env.step(random_action(env, info, rng))
        assert obs in env.observation_space and np.isfinite(reward) and reward <= 0
        if term or trunc:
            obs, info = env.reset()


def test_min_choices_two_steps_only_at_contested_checkins():
    env = DeviceAssignEnv(**SMALL, min_choices=2)
    obs, info = env.reset(seed=0)
    rng = np.random.default_rng(0)
    total = 0.0
    while True:
        assert info["action_mask"][:-1].sum() >= 2
        obs, reward, term, trunc, info = env.step(random_action(env, info, rng))
        total += reward
        if term or trunc:
            break
    assert total == pytest.approx(-info["jcts_s"].sum() / info["reward_scale"], rel=1e-9)


@pytest.mark.parametrize("min_choices", [1, 2])
def test_mask_is_exactly_the_eligible_jobs_with_open_demand(min_choices):
    # Checked against a fresh simulator view at every step: a check-in handed over right after
    # a request filled (or a quorum formed) in the same batch must not offer the stale job.
    env = DeviceAssignEnv(max_jobs=30, min_choices=min_choices)
    rng = np.random.default_rng(1)
    for seed in range(3):
        obs, info = env.reset(seed=seed)
        for _ in range(300):
            view, pc = env.sim.observe(), env.sim.pending_checkin
            legal_jobs = np.flatnonzero(view.static.job_eligible[pc.device_class] & (view.open_demand > 0))
            assert np.array_equal(np.sort(env.slots.job_of_slot[np.flatnonzero(info["action_mask"][:-1])]), legal_jobs)
            obs, reward, term, trunc, info = env.step(random_action(env, info, rng))
            if term or trunc:
                break


def test_mask_in_all_three_places_and_idle_always_legal():
    env = DeviceAssignEnv(**SMALL, mask_in_obs=True)
    obs, info = env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(200):
        mask = env.action_masks()
        assert mask[env.idle_action] and mask.dtype == bool and mask.shape == (env.max_jobs + 1,)
        assert np.array_equal(mask, info["action_mask"]) and np.array_equal(mask, obs["action_mask"].astype(bool))
        legal_jobs = np.sort(info["job_of_slot"][np.flatnonzero(mask[:-1])])
        assert np.array_equal(legal_jobs, env._pc.candidates)
        assert np.array_equal(obs["job_eligible"].astype(bool) & mask[:-1], mask[:-1])
        obs, _, term, trunc, info = env.step(random_action(env, info, rng))


def test_illegal_action_raises_a_clear_error():
    env = DeviceAssignEnv(**SMALL)
    obs, info = env.reset(seed=0)
    while info["action_mask"][:-1].all():
        obs, _, _, _, info = env.step(env.idle_action)
    illegal = int(np.flatnonzero(~info["action_mask"])[0])
    with pytest.raises(IllegalActionError, match="masked out"):
        env.step(illegal)
    with pytest.raises(IllegalActionError, match="out of range"):
        env.step(env.max_jobs + 1)
    env.step(env.idle_action)  # the env is still usable
    lenient = DeviceAssignEnv(**SMALL, illegal_action="idle")
    lenient.reset(seed=0)
    lenient.step(illegal)  # taken as idle
    penv = JobPriorityEnv(**SMALL)
    penv.reset(seed=0)
    with pytest.raises(IllegalActionError, match="NaN"):
        penv.step(np.full(penv.action_space.shape, np.nan, dtype=np.float32))
    with pytest.raises(IllegalActionError, match="shape"):
        penv.step(np.zeros(3, dtype=np.float32))


def test_unknown_config_key_is_rejected():
    with pytest.raises(venn_gym.SpecError, match="unknown config keys"):
        DeviceAssignEnv(**SMALL, min_choice=2)


# ------------------------------------------------------------------ observation exactness
def test_device_obs_per_step_updates_match_a_fresh_view():
    """Open demand and ages are updated incrementally between events: they must equal a fresh view's."""
    from venn_gym.envs.observation import JOB_FEATURES, ObservationBuilder

    env = DeviceAssignEnv(**SMALL)
    obs, info = env.reset(seed=4)
    rng = np.random.default_rng(0)
    cols = [JOB_FEATURES.index(c) for c in ("open_frac", "open", "remaining_demand", "age", "round_age")]
    fresh = ObservationBuilder(env.max_jobs, env.config["max_requirements"], env.config["max_tiers"], True, False)
    fresh.bind(env.sim.static, env.scenario.trace.mean_rate_per_s())
    for _ in range(1_500):
        view = env.sim.observe()
        fresh.refresh(view, env.slots)
        fresh.set_time(info["time_s"])
        expected = fresh.build(env._pc, env.action_masks())["jobs"]
        np.testing.assert_allclose(obs["jobs"][:, cols], expected[:, cols], rtol=1e-6, atol=1e-7)
        obs, _, term, trunc, info = env.step(random_action(env, info, rng))
        if term or trunc:
            break


# ------------------------------------------------------------------ reward
@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("horizon_s", [None, 4 * 3600.0])
def test_rewards_sum_to_minus_total_jct(env_id, horizon_s):
    env = make(env_id, horizon_s=horizon_s)
    rng = np.random.default_rng(0)
    obs, info = env.reset(seed=5)
    total = 0.0
    while True:
        obs, reward, term, trunc, info = env.step(random_action(env, info, rng))
        total += reward
        if term or trunc:
            break
    assert (term, trunc) == ((True, False) if horizon_s is None else (False, True))
    assert info["reward_scale"] == 3600.0 * 50
    assert total == pytest.approx(-info["jcts_s"].sum() / info["reward_scale"], rel=1e-9)
    summary = info["summary"]
    assert summary["jobs"] == 50
    assert (summary["unfinished_jobs"] == 0) == (horizon_s is None)
    with pytest.raises(venn_gym.VennGymError, match="episode is over"):
        env.step(random_action(env, info, rng))


# ------------------------------------------------------------------ baselines inside the envs
def run_agent(env, policy_name, seed):
    agent = PolicyAgent(make_policy(policy_name), env)
    obs, info = env.reset(seed=seed)
    while True:
        action, _ = agent.predict(obs)
        obs, _, term, trunc, info = env.step(action)
        if term or trunc:
            return info


def native_jcts(policy_name, seed, **options):
    scenario = venn_gym.make_scenario(SMALL["scenario"], seed=seed, **{**SMALL["scenario_options"], **options})
    return np.array([j.jct_s for j in venn_gym.run_policy(scenario, make_policy(policy_name)).jobs])


@pytest.mark.parametrize("policy", ["random", "fifo", "srsf", "venn"])
@pytest.mark.parametrize(
    "env_id,kw",
    [(DEVICE, {}), (PRIORITY, {"per_class_scores": True, "tier_choice": True})],
    ids=["device", "priority-per-class-tier"],
)
def test_baseline_agent_reproduces_native_run_exactly(env_id, kw, policy):
    info = run_agent(make(env_id, **kw), policy, seed=11)
    np.testing.assert_array_equal(info["jcts_s"], native_jcts(policy, seed=11))


@pytest.mark.parametrize("policy", ["random", "fifo", "srsf", "las"])
def test_per_job_scores_reproduce_per_job_policies(policy):
    info = run_agent(make(PRIORITY), policy, seed=12)
    np.testing.assert_array_equal(info["jcts_s"], native_jcts(policy, seed=12))


def test_class_dependent_scores_need_per_class_action():
    env = make(PRIORITY, tier_choice=True)
    agent = PolicyAgent(make_policy("venn"), env)
    obs, info = env.reset(seed=0)
    with pytest.raises(IllegalActionError, match="per_class_scores"):
        for _ in range(200):
            obs, *_, info = env.step(agent.act(obs, info))


def test_slots_reused_when_max_jobs_is_below_the_job_count():
    options = {"scale": 0.02, "mean_gap_s": 1e5, "n_jobs": 30}  # sparse arrivals: few jobs at a time
    native = venn_gym.run_policy(venn_gym.make_scenario("paper/low-v0", seed=11, **options), make_policy("srsf"))
    changes = sorted([(j.arrival_s, 1) for j in native.jobs] + [(j.end_s, -1) for j in native.jobs])
    peak = int(np.max(np.cumsum([d for _, d in changes])))
    assert peak < 10
    for env_id in ENV_IDS:
        env = gym.make(env_id, scenario="paper/low-v0", scenario_options=options, max_jobs=peak)
        info = run_agent(env, "srsf", seed=11)
        np.testing.assert_array_equal(info["jcts_s"], [j.jct_s for j in native.jobs])
    env = gym.make(PRIORITY, scenario="paper/low-v0", scenario_options=options, max_jobs=peak - 1)
    with pytest.raises(TooManyJobsError, match=f"max_jobs={peak - 1}"):
        run_agent(env, "srsf", seed=11)


def test_reset_can_switch_scenario():
    env = make(DEVICE, max_jobs=60)
    env.reset(seed=0)
    obs, info = env.reset(
        seed=0, options={"scenario": "paper/even-v0", "scenario_options": {"scale": 0.02, "n_jobs": 60}}
    )
    assert env.unwrapped.scenario.name == "paper/even-v0" and len(env.unwrapped.scenario.workload.jobs) == 60
    assert obs in env.observation_space
    obs, info = env.reset(seed=1)  # the switch is kept
    assert env.unwrapped.scenario.name == "paper/even-v0"
    scenario = venn_gym.make_scenario("paper/high-v0", seed=3, scale=0.02)
    env.reset(options={"scenario": scenario})
    assert env.unwrapped.scenario is scenario


# ------------------------------------------------------------------ training smoke
def _train(env_id, steps):
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO

    env = make(env_id, flatten_obs=True)
    if env_id == DEVICE:
        model = MaskablePPO("MlpPolicy", env, n_steps=256, batch_size=64, n_epochs=2, seed=0, device="cpu")
    else:
        model = PPO("MlpPolicy", env, n_steps=128, batch_size=64, n_epochs=2, seed=0, device="cpu")
    model.learn(total_timesteps=steps)
    obs, info = env.reset(seed=0)
    for _ in range(20):
        kwargs = {"action_masks": env.unwrapped.action_masks()} if env_id == DEVICE else {}
        action, _ = model.predict(obs, deterministic=True, **kwargs)
        obs, reward, term, trunc, info = env.step(action)
        assert np.isfinite(reward) and np.isfinite(obs).all()
    assert all(np.isfinite(p.detach().numpy()).all() for p in model.policy.parameters())


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_training_smoke(env_id):
    _train(env_id, 512)


@pytest.mark.slow
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_training_smoke_longer(env_id):
    _train(env_id, 5_000)


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("max_jobs", [float("nan"), 2.7, 1e8, "5", True, 10**6, 0])
def test_slot_counts_must_be_sane_integers(env_id, max_jobs):
    with pytest.raises(venn_gym.SpecError, match=r"max_jobs must be an integer in \[1, 100,000\]"):
        make(env_id, max_jobs=max_jobs)


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("action", ["3", None, [1.0, "x"], {"a": 1}])
def test_malformed_actions_are_illegal_action_errors(env_id, action):
    env = make(env_id)
    env.reset(seed=0)
    with pytest.raises(IllegalActionError, match="action must"):
        env.step(action)
