"""Behaviour cloning: warm-start an SB3 policy from a heuristic baseline, through the env.

1. Roll out the teacher in the env (``PolicyAgent`` for baselines) and record
   (observation, target).
2. Fit the policy: cross-entropy of the teacher's action (``DeviceAssign-v0``,
   masked logits for MaskablePPO), or MSE of the Gaussian action mean to the
   teacher's per-slot ranking (``JobPriority-v0``).

Teachers. ``DeviceAssign-v0`` can express any baseline exactly (default ``venn``).
``JobPriority-v0`` with one score per job slot cannot express Venn (its scores
depend on the device class, and its matching excludes tiers), so its default
teacher is ``srsf-total``: smallest *total* remaining demand first (current
round + later rounds), which is exactly Venn's order inside a group.
The target for an active slot is its teacher rank among the active jobs, mapped
to [-1, 1] (only the order matters to the env). With ``per_class_scores=True``
(:class:`venn_gym.agents.networks.JobClassScorePolicy`) the default teacher is
``venn-no-match`` (Venn's scheduling, class-dependent, without tier matching) and the
target is its encoded action, on the (class, slot) entries that can matter.
"""

from __future__ import annotations

import numpy as np
import torch as th

from venn_gym.errors import SpecError
from venn_gym.suites import TRAIN_SEED_MIN

from .config import DEVICE_ENV, make_env
from .teachers import make_teacher


def default_teacher(env_id: str, env_extra: dict | None = None) -> str:
    if env_id == DEVICE_ENV:
        return "venn"
    return "venn-no-match" if (env_extra or {}).get("per_class_scores") else "srsf-total"


def _class_targets(env, action: np.ndarray, obs: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per-class action: target = the encoded teacher action; mask = (class in the pool) x
    (active slot) x (class eligible for the slot's requirement): the entries that matter."""
    codec = env.unwrapped.codec
    C, M = codec.max_classes, codec.max_jobs
    T = env.unwrapped.config["max_tiers"]
    R = obs["job_requirement"].shape[1]
    bits = ((np.arange(C)[:, None] // T) >> np.arange(R)[None, :]) & 1
    eligible = (bits @ obs["job_requirement"].T) > 0  # (C, M)
    present = np.zeros(C, dtype=bool)
    present[codec.class_index] = True
    mask = eligible & present[:, None] & (obs["job_mask"] > 0)[None, :]
    return action[: C * M].astype(np.float32), mask.reshape(-1)


def _active_ranks(scores: np.ndarray, job_of_slot: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-slot target in [-1, 1]: the teacher's rank among the active slots (best = 1)."""
    target = np.zeros(len(mask), dtype=np.float32)
    slots = np.flatnonzero(mask)
    if len(slots) > 1:
        s = np.asarray(scores, dtype=float)
        s = s.max(axis=0) if s.ndim == 2 else s
        levels, rank = np.unique(s[job_of_slot[slots]], return_inverse=True)
        if len(levels) > 1:
            target[slots] = -1.0 + 2.0 * rank / (len(levels) - 1)
    return target


def collect(env_id: str, scenario: str, scale, env_extra: dict, teacher: str, episodes: int, seed: int):
    """Teacher rollouts on training seeds: (stacked observations, targets, masks, teacher mean JCT in s)."""
    from venn_gym.envs import PolicyAgent

    env = make_env(env_id, scenario, scale, env_extra)
    policy = make_teacher(teacher)
    agent = PolicyAgent(policy, env)
    rng = np.random.default_rng(seed)
    obs_list, targets, masks, jcts = [], [], [], []
    for _ in range(episodes):
        obs, info = env.reset(seed=int(rng.integers(TRAIN_SEED_MIN, 2**31 - 1)))
        if env_id != DEVICE_ENV:
            policy.reset(info["view"].static, info["scenario_seed"])
        done = False
        while not done:
            obs_list.append(obs)
            if env_id == DEVICE_ENV:
                action = agent.act(obs, info)
                targets.append(action)
                masks.append(info["action_mask"].copy())
            else:
                scores = policy.scores(info["view"], info["events"])
                action = env.unwrapped.scores_to_action(scores)
                if env.unwrapped.config["per_class_scores"]:
                    target, mask = _class_targets(env, action, obs)
                else:
                    target, mask = _active_ranks(scores, info["job_of_slot"], obs["job_mask"]), obs["job_mask"] > 0
                targets.append(target)
                masks.append(mask)
            obs, _, term, trunc, info = env.step(action)
            done = term or trunc
        jcts.append(info["summary"]["mean_jct_s"])
    env.close()
    stacked = {k: np.stack([o[k] for o in obs_list]) for k in obs_list[0]}
    return stacked, np.asarray(targets), np.stack(masks), float(np.mean(jcts))


def bc_loss(policy, obs: dict, target: th.Tensor, mask: th.Tensor, discrete: bool) -> th.Tensor:
    if discrete:
        try:  # MaskablePPO: the logits of masked-out actions are -inf
            dist = policy.get_distribution(obs, action_masks=mask.numpy())
        except TypeError:
            dist = policy.get_distribution(obs)
        return -dist.log_prob(target).mean()
    mean = policy.get_distribution(obs).distribution.mean
    m = mask.float()
    return (((mean - target) ** 2) * m).sum() / m.sum().clamp(min=1.0)


def fit(
    policy, data, epochs: int, batch_size: int = 256, lr: float = 1e-3, seed: int = 0, discrete: bool = True
) -> list[float]:
    """Supervised epochs over the teacher data; returns the mean loss of each epoch."""
    obs, targets, masks = data
    n = len(targets)
    obs_t = {k: th.as_tensor(v) for k, v in obs.items()}
    target_t = th.as_tensor(targets, dtype=th.long if discrete else th.float32)
    mask_t = th.as_tensor(masks)
    optimizer = th.optim.Adam(policy.parameters(), lr=lr)
    gen = th.Generator().manual_seed(seed)
    policy.set_training_mode(True)
    losses = []
    for _ in range(epochs):
        total = 0.0
        for idx in th.randperm(n, generator=gen).split(batch_size):
            batch = {k: v[idx] for k, v in obs_t.items()}
            loss = bc_loss(policy, batch, target_t[idx], mask_t[idx], discrete)
            optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
            optimizer.step()
            total += loss.item() * len(idx)
        losses.append(total / n)
    policy.set_training_mode(False)
    return losses


def warm_start(
    model,
    env_id: str,
    scenario: str,
    scale,
    env_extra: dict,
    teacher: str | None = None,
    episodes: int = 1,
    epochs: int = 10,
    lr: float = 1e-3,
    log_std: float | None = -2.0,
    seed: int = 0,
    batch_size: int = 256,
) -> dict:
    """Clone ``teacher`` into ``model.policy`` (in place); returns what was done, for train_info.json."""
    from gymnasium import spaces

    if not hasattr(model.policy, "get_distribution"):
        raise SpecError(
            f"--bc-warm-start needs an actor-critic policy (ppo, maskable_ppo, a2c), not {type(model).__name__}"
        )
    teacher = teacher or default_teacher(env_id, env_extra)
    obs, targets, masks, teacher_jct = collect(env_id, scenario, scale, env_extra, teacher, episodes, seed)
    discrete = isinstance(model.action_space, spaces.Discrete)
    losses = fit(
        model.policy, (obs, targets, masks), epochs, batch_size=batch_size, lr=lr, seed=seed, discrete=discrete
    )
    if not discrete and log_std is not None and hasattr(model.policy, "log_std"):
        with th.no_grad():  # explore close to the teacher's ranking when RL starts
            model.policy.log_std.fill_(log_std)
    return {
        "teacher": teacher,
        "episodes": episodes,
        "samples": int(len(targets)),
        "epochs": epochs,
        "loss_first_epoch": losses[0],
        "loss_last_epoch": losses[-1],
        "teacher_mean_jct_s": teacher_jct,
        "log_std_after": log_std if not discrete else None,
    }
