"""Set-based networks for the venn_gym observations.

The job table ``obs["jobs"]`` (one row per job slot, ``obs["job_mask"]`` marks the
slots that hold an active job) is treated as a *set*: one shared per-job encoder
embeds every row, and a masked mean + max pool gives a permutation-invariant
context. Nothing depends on the slot index, so a policy trained with some number
of jobs in the system applies to any other.

* :class:`JobSetExtractor` (any algorithm, both envs): features = [pooled job
  embeddings, encoded global keys (pool, time of day, class supply, tier
  response, the checking-in device)].
* :class:`JobScorePolicy` (``JobPriority-v0``): an actor-critic policy whose mean
  action for slot ``i`` is ``score(h_i, context)``: job ``i``'s own embedding plus
  the shared context, so the score of a job depends on its features and on the
  others only through the pooled context.
* :class:`ResidualScorePolicy` (:class:`venn_gym.agents.residual.ResidualEnv`): a
  :class:`JobScorePolicy` whose per-slot output (the correction to the teacher) starts
  at exactly zero, so that the untrained deterministic agent is the teacher.
* :class:`JobClassScorePolicy` (``JobPriority-v0`` with ``per_class_scores=True``):
  the score of (device class ``c``, slot ``i``) is ``score(h_i, class c, eligible(c, i),
  context)``, so class-dependent allocations such as Venn's are expressible.
"""

from __future__ import annotations

import gymnasium as gym
import torch as th
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

_JOB_KEYS = ("jobs", "job_requirement")  # per-slot rows, concatenated
# Per-slot scalars (device env; residual env; round_hold), appended to the rows.
_SLOT_KEYS = ("job_eligible", "teacher_score", "job_held", "job_holdable")
_SKIP = ("job_mask", "action_mask")  # not features


def _mlp(n_in: int, n_out: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out), nn.ReLU())


class JobSetExtractor(BaseFeaturesExtractor):
    """Dict observation -> [masked mean, masked max of per-job embeddings, global encoding].

    ``job_dim``: per-job embedding size; ``global_dim``: size of the global encoding.
    The per-job embeddings of the last forward pass stay in ``self.last_jobs`` (B, M, job_dim)
    and the mask in ``self.last_mask`` for :class:`JobScorePolicy`.
    """

    def __init__(self, observation_space: gym.spaces.Dict, job_dim: int = 64, global_dim: int = 32):
        spaces = observation_space.spaces
        self.max_jobs = spaces["jobs"].shape[0]
        row = sum(spaces[k].shape[-1] for k in _JOB_KEYS) + sum(1 for k in _SLOT_KEYS if k in spaces)
        self.global_keys = [k for k in sorted(spaces) if k not in _JOB_KEYS + _SLOT_KEYS + _SKIP]
        n_global = sum(int(spaces[k].shape[0]) for k in self.global_keys)
        super().__init__(observation_space, features_dim=2 * job_dim + global_dim)
        self.job_dim = job_dim
        self.job_encoder = _mlp(row, job_dim, job_dim)
        self.global_encoder = _mlp(n_global, global_dim, global_dim)
        self.has_slot_keys = [k for k in _SLOT_KEYS if k in spaces]

    def encode_jobs(self, obs: dict) -> tuple[th.Tensor, th.Tensor]:
        parts = [obs[k].float() for k in _JOB_KEYS] + [obs[k].float().unsqueeze(-1) for k in self.has_slot_keys]
        rows = th.cat(parts, dim=-1)  # (B, M, row)
        mask = obs["job_mask"].float()  # (B, M)
        return self.job_encoder(rows) * mask.unsqueeze(-1), mask

    def forward(self, obs: dict) -> th.Tensor:
        h, mask = self.encode_jobs(obs)
        count = mask.sum(dim=1, keepdim=True)
        mean = h.sum(dim=1) / count.clamp(min=1.0)
        neg = th.where(mask.unsqueeze(-1) > 0, h, th.full_like(h, -1e9))
        peak = th.where(count > 0, neg.max(dim=1).values, th.zeros_like(mean))
        g = self.global_encoder(th.cat([obs[k].float().reshape(len(mask), -1) for k in self.global_keys], dim=-1))
        self.last_jobs, self.last_mask, self.last_obs = h, mask, obs
        return th.cat([mean, peak, g], dim=-1)


class _SlotScores(nn.Module):
    """The policy's "mlp_extractor": latent_pi = per-slot scores (B, M); latent_vf = value features."""

    def __init__(self, extractor: JobSetExtractor, hidden: int):
        super().__init__()
        object.__setattr__(self, "extractor", extractor)  # shared with the policy, not a second copy of its weights
        ctx = extractor.features_dim
        self.score = nn.Sequential(nn.Linear(extractor.job_dim + ctx, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        self.value = nn.Sequential(nn.Linear(ctx, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh())
        self.latent_dim_pi = extractor.max_jobs
        self.latent_dim_vf = hidden

    def forward_actor(self, features: th.Tensor) -> th.Tensor:
        h = self.extractor.last_jobs  # set by the extractor in the same forward pass
        ctx = features.unsqueeze(1).expand(-1, h.shape[1], -1)
        return self.score(th.cat([h, ctx], dim=-1)).squeeze(-1)

    def forward_critic(self, features: th.Tensor) -> th.Tensor:
        return self.value(features)

    def forward(self, features: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        return self.forward_actor(features), self.forward_critic(features)


class JobScorePolicy(ActorCriticPolicy):
    """Actor-critic for ``JobPriority-v0`` (per-slot scores, ``per_class_scores=False``):
    action mean for slot i = score(job i's embedding, pooled context). ``score_hidden``
    sizes the score and value heads. Needs ``share_features_extractor=True`` (default)."""

    def __init__(self, *args, score_hidden: int = 64, **kwargs):
        self.score_hidden = score_hidden
        kwargs.setdefault("features_extractor_class", JobSetExtractor)
        super().__init__(*args, **kwargs)

    def _build_mlp_extractor(self) -> None:
        if not isinstance(self.features_extractor, JobSetExtractor):
            raise TypeError("JobScorePolicy needs the JobSetExtractor features extractor")
        if self.action_space.shape[0] != self.features_extractor.max_jobs:
            raise ValueError("JobScorePolicy needs one score per job slot (per_class_scores=False, tier_choice=False)")
        self.mlp_extractor = _SlotScores(self.features_extractor, self.score_hidden)

    def _build(self, lr_schedule) -> None:
        super()._build(lr_schedule)
        self.action_net = nn.Identity()  # the scores are the action mean
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)


class ResidualScorePolicy(JobScorePolicy):
    """:class:`JobScorePolicy` for the residual env: the last layer of the score head is
    zero, so the mean correction is exactly 0 before training (the agent equals its teacher)."""

    def _build(self, lr_schedule) -> None:
        super()._build(lr_schedule)  # (SB3's orthogonal init runs in here)
        last = self.mlp_extractor.score[-1]
        with th.no_grad():
            last.weight.zero_()
            last.bias.zero_()


class _ClassSlotScores(_SlotScores):
    """latent_pi = scores per (device class, slot), row-major ``[class, slot]`` as the env's action.
    The first layer is separable (job, class, context, eligibility terms summed), so the
    (B, C, M, hidden) tensor is built by broadcasting without concatenating inputs."""

    def __init__(self, extractor: JobSetExtractor, hidden: int, n_req: int, n_tiers: int):
        super().__init__(extractor, hidden)
        n_classes = (2**n_req) * n_tiers
        c = th.arange(n_classes)
        bits = ((c[:, None] // n_tiers) >> th.arange(n_req)[None, :]) & 1  # class index = pattern * T + tier
        tier = nn.functional.one_hot(c % n_tiers, n_tiers)
        self.register_buffer("class_bits", bits.float())
        self.register_buffer("class_static", th.cat([bits, tier], dim=1).float())
        self.job_in = nn.Linear(extractor.job_dim, hidden)
        self.class_in = nn.Linear(n_req + n_tiers + 1, hidden)
        self.ctx_in = nn.Linear(extractor.features_dim, hidden)
        self.elig_in = nn.Parameter(th.zeros(hidden))
        self.out = nn.Linear(hidden, 1)
        del self.score
        self.latent_dim_pi = n_classes * extractor.max_jobs

    def forward_actor(self, features: th.Tensor) -> th.Tensor:
        h, obs = self.extractor.last_jobs, self.extractor.last_obs
        b = h.shape[0]
        elig = th.einsum("bmr,cr->bcm", obs["job_requirement"].float(), self.class_bits).clamp(max=1.0)
        cls = th.cat([self.class_static.expand(b, -1, -1), obs["class_supply"].float().unsqueeze(-1)], dim=-1)
        z = (
            self.job_in(h)[:, None]
            + self.class_in(cls)[:, :, None]
            + self.ctx_in(features)[:, None, None]
            + elig.unsqueeze(-1) * self.elig_in
        )
        return self.out(th.tanh(z)).squeeze(-1).reshape(b, -1)


class JobClassScorePolicy(JobScorePolicy):
    """Actor-critic for ``JobPriority-v0`` with ``per_class_scores=True`` (``tier_choice=False``)."""

    def _build_mlp_extractor(self) -> None:
        fe = self.features_extractor
        if not isinstance(fe, JobSetExtractor):
            raise TypeError("JobClassScorePolicy needs the JobSetExtractor features extractor")
        spaces = self.observation_space.spaces
        n_req, n_tiers = spaces["job_requirement"].shape[-1], spaces["tier_response"].shape[0]
        head = _ClassSlotScores(fe, self.score_hidden, n_req, n_tiers)
        if self.action_space.shape[0] != head.latent_dim_pi:
            raise ValueError("JobClassScorePolicy needs per_class_scores=True and tier_choice=False")
        self.mlp_extractor = head
