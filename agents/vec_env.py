"""Envs stepped on several cores: the envs split into contiguous shards, the first stepped in the
trainer's own process and each other one in a worker process (a ``DummyVecEnv`` per shard),
observations passed through shared memory.

SB3's ``SubprocVecEnv`` gives every env a process of its own and pickles every observation
through a pipe; on this 2-core machine (a pipe round trip costs about 120 us) that costs more than
it saves: 16 envs made 1,060 env steps/s against 1,750 in one process. Here each step is one small
message per shard, the shards step in parallel while the trainer waits, and the observations are
written in place. Env ``i`` is seeded ``seed + i`` in whichever shard it sits, as in
``DummyVecEnv``, so a run's rollouts, and so its model, do not depend on the number of processes.
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import suppress
from multiprocessing.shared_memory import SharedMemory
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv
from stable_baselines3.common.vec_env.base_vec_env import CloudpickleWrapper, VecEnvIndices


def _leaves(space: spaces.Space) -> dict[str | None, spaces.Space]:
    """The arrays an observation is made of: a ``Dict``'s entries, or the space itself (key None)."""
    parts = dict(space.spaces) if isinstance(space, spaces.Dict) else {None: space}
    for key, part in parts.items():
        if isinstance(part, (spaces.Dict, spaces.Tuple)) or part.shape is None or part.dtype is None:
            raise ValueError(f"ShardedVecEnv needs observations of fixed-shape arrays; {key or 'it'} is {part}")
    return parts


class _SharedObservations:
    """One block of shared memory per observation array, shape ``(n_envs, *shape)``."""

    def __init__(self, space: spaces.Space, n_envs: int, names: dict | None = None) -> None:
        """New blocks, or (``names``) the blocks another process made."""
        self._blocks, self.arrays = {}, {}
        for key, part in _leaves(space).items():
            dtype = np.dtype(part.dtype)
            size = max(1, n_envs * int(np.prod(part.shape)) * dtype.itemsize)
            block = SharedMemory(create=True, size=size) if names is None else SharedMemory(name=names[key])
            self._blocks[key] = block
            self.arrays[key] = np.ndarray((n_envs, *part.shape), dtype=dtype, buffer=block.buf)

    @property
    def names(self) -> dict:
        return {key: block.name for key, block in self._blocks.items()}

    def write(self, rows: range, observations) -> None:
        for key, array in self.arrays.items():
            array[rows.start : rows.stop] = observations if key is None else observations[key]

    def read(self):
        """A copy: the next step overwrites the blocks."""
        copies = {key: array.copy() for key, array in self.arrays.items()}
        return copies[None] if None in copies else copies

    def close(self, unlink: bool) -> None:
        self.arrays = {}  # no array may point into a block once it is closed
        for block in self._blocks.values():
            block.close()
            if unlink:
                block.unlink()


def _without(infos: list[dict], keys: tuple) -> list[dict]:
    return [{k: v for k, v in info.items() if k not in keys} for info in infos]


class _WorkerError:
    """What a worker sends back instead of an answer when a command raised: the exception and its
    traceback, re-raised in the trainer's process."""

    def __init__(self, error: BaseException) -> None:
        self.trace = traceback.format_exc()
        try:
            pickle.dumps(error)
            self.error = error
        except Exception:  # an exception that cannot travel: its text does
            self.error = RuntimeError(repr(error))


def _serve_shard(remote, parent_remote, env_fns_wrapper: CloudpickleWrapper, rows: range, local_info_keys) -> None:
    """A worker: build its shard's envs, then answer the parent's commands until told to close."""
    parent_remote.close()
    try:
        venv = DummyVecEnv(env_fns_wrapper.var)
    except Exception as error:  # the parent's first command gets the reason
        failure = _WorkerError(error)
        remote.recv()
        remote.send(failure)
        return
    shared = None
    try:
        while True:
            try:
                command, data = remote.recv()
            except (EOFError, KeyboardInterrupt):
                break
            try:
                if command == "close":
                    venv.close()
                    remote.close()
                    break
                if command == "attach":
                    shared = _SharedObservations(venv.observation_space, data[0], data[1])
                remote.send(_answer(venv, shared, rows, local_info_keys, command, data))
            except Exception as error:
                remote.send(_WorkerError(error))
    finally:
        if shared is not None:
            shared.close(unlink=False)


def _answer(venv: DummyVecEnv, shared, rows: range, local_info_keys: tuple, command: str, data):
    if command == "step":
        venv.step_async(data)
        observations, rewards, dones, infos = venv.step_wait()
        shared.write(rows, observations)
        return rewards, dones, _without(infos, local_info_keys), _without(venv.reset_infos, local_info_keys)
    if command == "reset":
        seeds, options = data
        for i, (seed, option) in enumerate(zip(seeds, options, strict=True)):
            venv._seeds[i], venv._options[i] = seed, option  # what VecEnv.reset reads: any seeds, not only seed + i
        shared.write(rows, venv.reset())
        return _without(venv.reset_infos, local_info_keys)
    if command == "attach":
        return None
    if command == "cpu":
        return time.process_time()
    if command == "call":
        name, indices, args, kwargs = data
        return getattr(venv, name)(*args, indices=indices, **kwargs)
    raise ValueError(f"unknown command {command!r}")


class ShardedVecEnv(VecEnv):
    """``len(env_fns)`` envs split into ``n_processes`` contiguous shards: the first is stepped in
    this process, each other one in a worker process of its own, at the same time.

    Stepping a shard here hides the workers' wake-up latency behind this process's own work, so
    with 2 processes on 2 cores nothing waits on a pipe for long. ``start_method``: as in
    ``SubprocVecEnv`` (default ``forkserver`` where available, else ``spawn``: a script that builds
    one must guard its entry point with ``if __name__ == "__main__":``, as for any such process).
    ``local_info_keys``: info entries left out of what ``step`` returns, from every shard (objects
    the envs' own wrappers use and that are costly to pickle at every step, e.g. venn_gym's
    ``view`` and ``events``).
    """

    def __init__(
        self,
        env_fns: list[Callable[[], gym.Env]],
        n_processes: int = 2,
        start_method: str | None = None,
        local_info_keys: Sequence[str] = (),
    ) -> None:
        if not 1 <= n_processes <= len(env_fns):
            raise ValueError(
                f"n_processes must be between 1 and the number of envs ({len(env_fns)}), got {n_processes}"
            )
        if start_method is None:
            start_method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        context = mp.get_context(start_method)
        bounds = np.linspace(0, len(env_fns), n_processes + 1).round().astype(int)
        self._shards = [range(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
        self._local_info_keys = tuple(local_info_keys)
        self._here = DummyVecEnv([env_fns[i] for i in self._shards[0]])  # first: a broken env fails here
        self._remotes, self._processes = [], []
        self._waiting = False
        self._closed = False
        self._shared = None
        self._worker_cpu_s = [0.0] * (n_processes - 1)
        try:
            for shard in self._shards[1:]:
                remote, work_remote = context.Pipe()
                fns = CloudpickleWrapper([env_fns[i] for i in shard])
                process = context.Process(
                    target=_serve_shard, args=(work_remote, remote, fns, shard, self._local_info_keys), daemon=True
                )
                process.start()
                work_remote.close()
                self._remotes.append(remote)
                self._processes.append(process)
            # VecEnv's constructor asks every env for its render_mode: the workers answer
            super().__init__(len(env_fns), self._here.observation_space, self._here.action_space)
            self._shared = _SharedObservations(self.observation_space, len(env_fns))
            for remote in self._remotes:
                remote.send(("attach", (len(env_fns), self._shared.names)))
            self._answers(self._remotes)
        except BaseException:
            self.close()
            raise

    def step_async(self, actions: np.ndarray) -> None:
        for remote, shard in zip(self._remotes, self._shards[1:], strict=True):
            remote.send(("step", actions[shard.start : shard.stop]))
        self._here.step_async(actions[: self._shards[0].stop])
        self._waiting = True

    def step_wait(self):
        self._waiting = False
        (observations, rewards, dones, infos), answers = self._here_and_workers(self._here.step_wait)
        self._shared.write(self._shards[0], observations)
        here = (rewards, dones, _without(infos, self._local_info_keys))
        parts = [(*here, _without(self._here.reset_infos, self._local_info_keys)), *answers]
        self.reset_infos = [info for part in parts for info in part[3]]
        rewards = np.concatenate([part[0] for part in parts])
        dones = np.concatenate([part[1] for part in parts])
        return self._shared.read(), rewards, dones, [info for part in parts for info in part[2]]

    def reset(self):
        for remote, shard in zip(self._remotes, self._shards[1:], strict=True):
            remote.send(("reset", ([self._seeds[i] for i in shard], [self._options[i] for i in shard])))
        for i in self._shards[0]:
            self._here._seeds[i], self._here._options[i] = self._seeds[i], self._options[i]
        observations, answers = self._here_and_workers(self._here.reset)
        self._shared.write(self._shards[0], observations)
        self.reset_infos = _without(self._here.reset_infos, self._local_info_keys)
        self.reset_infos += [info for infos in answers for info in infos]
        self._reset_seeds()
        self._reset_options()
        return self._shared.read()

    def _here_and_workers(self, step_here: Callable[[], Any]) -> tuple[Any, list[Any]]:
        """This process's shard's result while the workers do theirs, then the workers' answers; an
        exception here is raised after the workers have answered, so that no answer is left in a pipe."""
        try:
            here = step_here()
        except BaseException:
            with suppress(Exception):
                self._answers(self._remotes)
            raise
        return here, self._answers(self._remotes)

    def workers_cpu_s(self) -> float:
        """The CPU seconds the worker processes have used so far (this process's are its own); a
        worker that has ended (an error, Ctrl-C) counts with the last figure it gave."""
        for k, remote in enumerate(self._remotes):
            try:
                remote.send(("cpu", None))
                self._worker_cpu_s[k] = remote.recv()
            except (EOFError, OSError):
                pass
        return float(sum(self._worker_cpu_s))

    def close(self) -> None:
        """End the workers and free the shared observations; also after a worker has died."""
        if self._closed:
            return
        self._closed = True
        for remote in self._remotes:
            try:
                if self._waiting:
                    remote.recv()
                remote.send(("close", None))
            except (EOFError, OSError):
                pass
        for process in self._processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
        for remote in self._remotes:
            remote.close()
        self._here.close()
        if self._shared is not None:
            self._shared.close(unlink=True)

    def _call(self, name: str, indices: VecEnvIndices, *args, **kwargs) -> list[Any]:
        """``DummyVecEnv.<name>`` in each shard holding one of ``indices``; results in index order."""
        wanted = self._get_indices(indices)
        found, asked = {}, []
        for k, shard in enumerate(self._shards):
            local = [i - shard.start for i in wanted if i in shard]
            if not local:
                continue
            if k == 0:
                found.update(zip(local, getattr(self._here, name)(*args, indices=local, **kwargs), strict=True))
            else:
                self._remotes[k - 1].send(("call", (name, local, args, kwargs)))
                asked.append((self._remotes[k - 1], shard, local))
        for (_, shard, local), values in zip(asked, self._answers([remote for remote, _, _ in asked]), strict=True):
            for i, value in zip(local, values, strict=True):
                found[shard.start + i] = value
        return [found[i] for i in wanted]

    @staticmethod
    def _answers(remotes) -> list[Any]:
        """Every worker's answer to its last command (all of them, so that none is left in a pipe),
        then the first worker's exception, raised here with the worker's traceback as a note."""
        answers = []
        for remote in remotes:
            try:
                answers.append(remote.recv())
            except EOFError:
                answers.append(_WorkerError(RuntimeError("an env worker process ended (killed, or out of memory?)")))
        for answer in answers:
            if isinstance(answer, _WorkerError):
                answer.error.add_note(f"raised in an env worker process:\n{answer.trace}")
                raise answer.error
        return answers

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return self._call("get_attr", indices, attr_name)

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        self._call("set_attr", indices, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        return self._call("env_method", indices, method_name, *method_args, **method_kwargs)

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return self._call("env_is_wrapped", indices, wrapper_class)
