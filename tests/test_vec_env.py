"""Envs stepped in several processes (agents/vec_env.py): the same rollouts, and so the same
trained model, as in one process."""

from __future__ import annotations

import functools
import json
import multiprocessing
from multiprocessing.shared_memory import SharedMemory

import gymnasium as gym
import numpy as np
import pytest
import yaml
from gymnasium import spaces

pytest.importorskip("stable_baselines3")
pytestmark = pytest.mark.filterwarnings("ignore:.*at or after the horizon")  # the short episodes

from stable_baselines3.common.monitor import Monitor  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

from venn_gym.agents.config import HYPERPARAMS_DIR, PRIORITY_ENV, make_env  # noqa: E402
from venn_gym.agents.play import load_agent  # noqa: E402
from venn_gym.agents.train import TrainConfig, train  # noqa: E402
from venn_gym.agents.vec_env import ShardedVecEnv  # noqa: E402
from venn_gym.envs.base import IN_PROCESS_INFO_KEYS  # noqa: E402
from venn_gym.errors import IllegalActionError, SpecError  # noqa: E402

SCENARIO, SCALE = "paper/low-v1", 0.02
ENV_KWARGS = {"max_jobs": 50, "max_requirements": 4, "max_tiers": 4, "horizon_s": 300.0}  # short episodes


def training_env():
    return Monitor(make_env(PRIORITY_ENV, SCENARIO, SCALE, ENV_KWARGS, training=True))


def rollout(venv, steps: int) -> list:
    """Every step's observations, rewards, dones, and the infos' keys and episode returns and lengths
    (Monitor's records without their wall-clock times)."""
    venv.seed(3)
    rng = np.random.default_rng(0)
    seen = [venv.reset()]
    for _ in range(steps):
        actions = np.stack([venv.action_space.sample() for _ in range(venv.num_envs)])
        actions = rng.uniform(-1, 1, actions.shape).astype(actions.dtype)
        obs, rewards, dones, infos = venv.step(actions)
        episodes = [{k: i["episode"][k] for k in "rl"} if "episode" in i else None for i in infos]
        seen.append((obs, rewards, dones, [(sorted(i), e) for i, e in zip(infos, episodes)]))
    return seen


def same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return a == b


def without_local_keys(venv):
    """DummyVecEnv's step and reset with the in-process info entries dropped, as ShardedVecEnv does."""
    step_wait = venv.step_wait

    def stripped():
        obs, rewards, dones, infos = step_wait()
        return obs, rewards, dones, [{k: v for k, v in i.items() if k not in IN_PROCESS_INFO_KEYS} for i in infos]

    venv.step_wait = stripped
    return venv


def test_sharded_steps_are_those_of_one_process_across_episode_ends():
    # 3 envs in 2 processes (shards of 2 and 1), long enough for every env to end an episode.
    fns = [training_env] * 3
    expected = rollout(without_local_keys(DummyVecEnv(fns)), 60)
    sharded = ShardedVecEnv(fns, 2, local_info_keys=IN_PROCESS_INFO_KEYS)
    try:
        got = rollout(sharded, 60)
        assert any(info[1] is not None for step in got[1:] for info in step[3]), "no episode ended: test too short"
        assert same(got, expected)
        assert all(not set(IN_PROCESS_INFO_KEYS) & set(keys) for step in got[1:] for keys, _ in step[3])
        # Calls reach the right env, in index order, whichever process holds it.
        seeds = sharded.get_attr("reward_scale")
        assert len(seeds) == 3 and sharded.get_attr("reward_scale", indices=[2, 0]) == [seeds[2], seeds[0]]
        assert sharded.env_method("get_wrapper_attr", "spec", indices=[1])[0].id == PRIORITY_ENV
        assert sharded.env_is_wrapped(Monitor) == [True, True, True]
        assert sharded.workers_cpu_s() > 0.1  # the worker stepped its env (training counts this CPU too)
        names = list(sharded._shared.names.values())
    finally:
        sharded.close()
    for name in names:  # the shared observation blocks are gone with the env
        with pytest.raises(FileNotFoundError):
            SharedMemory(name=name)


def test_process_count_must_fit_the_envs():
    with pytest.raises(ValueError, match="n_processes must be between 1 and the number of envs"):
        ShardedVecEnv([training_env] * 2, 3)


def train_here(out, hp_path, timesteps: int, processes: int) -> dict:
    """PPO on the tests' scenario and scale with the hyperparameters at hp_path."""
    return train(
        TrainConfig(
            algo="ppo",
            scenario=SCENARIO,
            scale=SCALE,
            timesteps=timesteps,
            out=out,
            hyperparams=hp_path,
            processes=processes,
            progress=False,
        )
    )


def trained_weights(out, processes: int, hp_path) -> np.ndarray:
    train_here(out, hp_path, 128, processes)
    model, _ = load_agent(out / "model.zip")
    return np.concatenate([p.detach().numpy().ravel() for p in model.policy.parameters()])


@pytest.fixture
def hp_path(tmp_path):
    """The shipped PPO entry with 4 envs and rollouts of 4 x 16 steps."""
    table = yaml.safe_load((HYPERPARAMS_DIR / "ppo.yml").read_text())
    hp = table[PRIORITY_ENV]
    hp.update(n_envs=4, n_steps=16, batch_size=32, n_epochs=1)
    path = tmp_path / "ppo.yml"
    path.write_text(yaml.safe_dump({PRIORITY_ENV: hp}))
    return path


def test_a_training_run_does_not_depend_on_its_process_count(tmp_path, hp_path):
    one, two = (trained_weights(tmp_path / f"run{k}", k, hp_path) for k in (1, 2))
    assert one.size > 1000 and np.array_equal(one, two)
    with pytest.raises(SpecError, match="--processes must be between 1 and n_envs"):
        train(TrainConfig(algo="ppo", timesteps=64, out=tmp_path / "bad", hyperparams=hp_path, processes=5))


def test_env_constructors_can_be_partials():
    # ShardedVecEnv pickles its env constructors for the workers (cloudpickle): a partial works too.
    fns = [functools.partial(make_env, PRIORITY_ENV, SCENARIO, SCALE, ENV_KWARGS)] * 2
    venv = ShardedVecEnv(fns, 2)
    try:
        obs = venv.reset()
        assert all(v.shape[0] == 2 for v in obs.values())
    finally:
        venv.close()


def test_an_interrupted_run_ends_its_workers_and_keeps_its_record(tmp_path, hp_path, ppo_interrupted_after_one_rollout):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train_here(out, hp_path, 256, processes=2)
    record = json.loads((out / "train_info.json").read_text())
    assert record["complete"] is False and record["timesteps"] == 64 and record["cpu_s"] > 0
    assert not multiprocessing.active_children()  # the worker ended with the run


class Fragile(gym.Env):
    """Refuses action 1, as an env refuses an illegal action."""

    observation_space = spaces.Box(0.0, 1.0, (2,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, dtype=np.float32), {}

    def step(self, action):
        if action == 1:
            raise IllegalActionError("action 1 is refused")
        return np.ones(2, dtype=np.float32), 1.0, False, False, {}


def unbuildable():
    raise SpecError("no scenario named 'nope'")


def test_a_workers_error_is_raised_here_by_type_and_the_env_goes_on():
    venv = ShardedVecEnv([Fragile, Fragile], 2)
    try:
        venv.reset()
        with pytest.raises(IllegalActionError, match="action 1 is refused") as raised:
            venv.step(np.array([0, 1]))  # env 1 lives in the worker
        assert any("env worker process" in note for note in raised.value.__notes__)
        obs, rewards, _, _ = venv.step(np.array([0, 0]))  # no answer was left in a pipe
        assert rewards.tolist() == [1.0, 1.0] and obs.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    finally:
        venv.close()
    assert not multiprocessing.active_children()


def test_an_env_that_cannot_be_built_in_a_worker_is_a_clear_error_and_leaves_nothing_running():
    with pytest.raises(SpecError, match="no scenario named 'nope'"):
        ShardedVecEnv([Fragile, unbuildable], 2)
    assert not multiprocessing.active_children()


def test_an_error_in_this_processs_shard_leaves_no_worker_answer_behind():
    venv = ShardedVecEnv([Fragile, Fragile], 2)
    try:
        venv.reset()
        with pytest.raises(IllegalActionError):
            venv.step(np.array([1, 0]))  # env 0 is stepped here
        _, rewards, _, _ = venv.step(np.array([0, 0]))
        assert rewards.tolist() == [1.0, 1.0]
    finally:
        venv.close()
