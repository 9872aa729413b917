"""The action of the job-priority env, both ways: action -> simulator scores (the env)
and policy scores -> action (the baseline adapter).

Layout of the flat ``Box(-1, 1)`` action (``float32``):

* ``per_class_scores=False``: ``max_jobs`` entries, a score per job slot;
* ``per_class_scores=True``: ``max_classes * max_jobs`` entries, row-major
  ``[class, slot]`` (class index as in the observation);
* ``tier_choice=True`` appends ``max_jobs`` entries, one per slot: ``[-1, 1]`` is cut
  into ``V + 1`` equal bins (``V`` = the scenario's speed tiers); the middle bin
  (index ``V // 2``) means "any tier", the bins below it tiers ``0 .. V//2 - 1`` and
  the bins above it the remaining tiers in order. Restricting a job to tier ``u``
  sets its score to ``-inf`` (never) for every device class of another tier.
* ``share_allocation=True`` reads the score entries as shares instead: every job in a slot
  scores the same, and a device goes to one of the eligible jobs with open demand at random in
  proportion to ``2 ** (SHARE_OCTAVES * a)`` (so ``a = 1`` weighs ``2 ** 32`` times ``a = -1``):
  a device class split between jobs, and between groups, in any proportions.
* ``hold_choices_s`` (non-empty with ``round_hold=True``) appends ``max_jobs`` entries, one per
  slot: ``[-1, 1]`` is cut into ``len(hold_choices_s)`` equal bins, bin ``b`` holding the
  slot's round back for ``hold_choices_s[b]`` seconds (the first choice is 0: admit it). A
  hold applies only to a round that can be held (synchronous, nothing dispatched, not held
  already: :meth:`Simulation.hold_rounds`); for any other it is ignored.

Values outside [-1, 1] are clipped; NaN is an :class:`IllegalActionError`.
Only the order of scores matters (within a device class): a device goes to the
highest-scoring eligible job with open demand, ties uniformly at random.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from venn_gym.errors import IllegalActionError, short_repr

SHARE_OCTAVES = 16.0  # share_allocation: a share entry a weighs 2 ** (16 a); a power of two keeps 16 a exact


def tier_of_bin(b: np.ndarray, tiers: int) -> np.ndarray:
    """Bin index -> tier (-1: any)."""
    mid = tiers // 2
    return np.where(b == mid, -1, np.where(b < mid, b, b - 1))


def bin_of_tier(u: np.ndarray, tiers: int) -> np.ndarray:
    mid = tiers // 2
    return np.where(u < 0, mid, np.where(u < mid, u, u + 1))


class PriorityActionCodec:
    def __init__(
        self,
        max_jobs: int,
        max_classes: int,
        per_class: bool,
        tier_choice: bool,
        hold_choices_s: tuple = (),
        share_allocation: bool = False,
    ):
        self.max_jobs = max_jobs
        self.share_allocation = share_allocation
        self.max_classes = max_classes
        self.per_class = per_class
        self.tier_choice = tier_choice
        self.hold_choices_s = np.asarray(hold_choices_s, dtype=float)
        self.n_scores = max_classes * max_jobs if per_class else max_jobs
        self.hold_start = self.n_scores + (max_jobs if tier_choice else 0)
        n = self.hold_start + (max_jobs if len(self.hold_choices_s) else 0)
        self.space = spaces.Box(-1.0, 1.0, (n,), dtype=np.float32)

    def bind(self, static, class_index: np.ndarray) -> None:
        self.static = static
        self.class_index = class_index  # engine class -> action class row
        self.tiers = static.speed_tiers

    # ---------------------------------------------------------------- decode
    def decode(self, action, slots) -> np.ndarray:
        """Simulator scores, shape ``(n_jobs,)`` or ``(n_classes, n_jobs)``."""
        a = self._checked(action)
        st = self.static
        s, j = slots.occupied()
        scores = self._per_job(a, s, j)
        if self.share_allocation:
            scores = np.zeros_like(scores)  # one level: the shares decide
        if self.tier_choice:
            bins = np.minimum(((a[self.n_scores :][s] + 1.0) * 0.5 * (self.tiers + 1)).astype(np.int64), self.tiers)
            tier = tier_of_bin(bins, self.tiers)
            if (tier >= 0).any():
                scores = np.array(np.broadcast_to(scores, (st.n_classes, st.n_jobs)))
                restricted = tier >= 0
                wrong = st.class_tier[:, None] != tier[None, restricted]
                sub = scores[:, j[restricted]]
                sub[wrong] = -np.inf
                scores[:, j[restricted]] = sub
        return scores

    def decode_shares(self, action, slots) -> np.ndarray | None:
        """The shares of ``share_allocation`` (None without it), shape as :meth:`decode`'s scores."""
        if not self.share_allocation:
            return None
        s, j = slots.occupied()
        return self._per_job(np.exp2(SHARE_OCTAVES * self._checked(action)), s, j)

    def _per_job(self, values: np.ndarray, s: np.ndarray, j: np.ndarray) -> np.ndarray:
        """The score entries of an action over the simulator's jobs (and classes); 0 off the slots."""
        st = self.static
        if self.per_class:
            table = values[: self.n_scores].reshape(self.max_classes, self.max_jobs)
            out = np.zeros((st.n_classes, st.n_jobs))
            out[:, j] = table[self.class_index][:, s]
        else:
            out = np.zeros(st.n_jobs)
            out[j] = values[s]
        return out

    def decode_holds(self, action, slots) -> np.ndarray:
        """Seconds to hold each job's round back (0: admit it), shape ``(n_jobs,)``."""
        hold_s = np.zeros(self.static.n_jobs)
        if len(self.hold_choices_s):
            s, j = slots.occupied()
            a = self._checked(action)[self.hold_start :][s]
            n = len(self.hold_choices_s)
            hold_s[j] = self.hold_choices_s[np.minimum(((a + 1.0) * 0.5 * n).astype(np.int64), n - 1)]
        return hold_s

    def _checked(self, action) -> np.ndarray:
        try:
            a = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError):
            raise IllegalActionError(
                f"action must be numbers of shape {self.space.shape}, got {short_repr(action)}"
            ) from None
        if a.shape != self.space.shape:
            a = a.reshape(-1) if a.size == self.space.shape[0] else a
            if a.shape != self.space.shape:
                raise IllegalActionError(f"action must have shape {self.space.shape}, got {np.shape(action)}")
        if np.isnan(a).any():
            raise IllegalActionError("action contains NaN")
        return np.clip(a, -1.0, 1.0)

    # ---------------------------------------------------------------- encode
    def encode(
        self, scores: np.ndarray, slots, hold_s: np.ndarray | None = None, shares: np.ndarray | None = None
    ) -> np.ndarray:
        """An action that makes the simulator allocate exactly as ``scores`` and ``shares`` would
        (same order within every device class, same ``-inf`` entries, same shares where they are
        powers of two apart within a class, else to float32 precision), and hold rounds back as
        ``hold_s`` (seconds per job; None: none), for the jobs in slots.
        Raises :class:`IllegalActionError` when this action layout cannot express them."""
        s, j = slots.occupied()
        if self.share_allocation:
            action = self._encode_shares(scores, shares, s, j)
        elif shares is not None:
            raise IllegalActionError("these decisions split device classes by shares; use share_allocation=True")
        else:
            action = self._encode_scores(scores, slots)
        holds = np.zeros(len(j)) if hold_s is None else np.asarray(hold_s, dtype=float)[j]
        if len(self.hold_choices_s):
            match = holds[:, None] == self.hold_choices_s[None, :]
            if not match.any(axis=1).all():
                raise IllegalActionError(
                    f"holds must be one of hold_choices_s {self.hold_choices_s.tolist()}, "
                    f"got {sorted(set(holds.tolist()))}"
                )
            n = len(self.hold_choices_s)
            action[self.hold_start + s] = -1.0 + (2.0 * match.argmax(axis=1) + 1.0) / n
        elif (holds > 0).any():
            raise IllegalActionError("these decisions hold rounds back; use round_hold=True")
        return action

    def _encode_shares(self, scores, shares, s: np.ndarray, j: np.ndarray) -> np.ndarray:
        st = self.static
        full = np.broadcast_to(np.asarray(scores, dtype=float), (st.n_classes, st.n_jobs))[:, j]
        finite = np.where(np.isfinite(full), full, np.nan)
        with np.errstate(invalid="ignore"):
            spread = np.nanmax(finite, axis=1, initial=-np.inf) - np.nanmin(finite, axis=1, initial=np.inf)
        if (spread[np.isfinite(spread)] > 0).any():
            raise IllegalActionError("share_allocation expresses one score level per device class, and shares")
        weights = np.ones((st.n_classes, len(j)))
        if shares is not None:
            weights = np.broadcast_to(np.asarray(shares, dtype=float), (st.n_classes, st.n_jobs))[:, j]
        top = weights.max(axis=1, initial=0.0)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.clip(np.log2(weights / top) / SHARE_OCTAVES, -1.0, 1.0)
        values = np.where(np.isnan(values), 1.0, values)  # a class whose shares are all zero: uniform
        action = np.zeros(self.space.shape, dtype=np.float32)
        if self.per_class:
            table = np.zeros((self.max_classes, self.max_jobs), dtype=np.float32)
            table[np.ix_(self.class_index, s)] = values
            action[: self.n_scores] = table.reshape(-1)
        else:
            if not (values == values[:1]).all():
                raise IllegalActionError("these shares depend on the device class; use per_class_scores=True")
            action[s] = values[0] if len(values) else 0.0
        never = np.isneginf(full)
        if self.tier_choice:
            tier = np.full(len(s), -1)
            for k in np.flatnonzero(never.any(axis=0)):
                matches = [u for u in range(self.tiers) if np.array_equal(never[:, k], st.class_tier != u)]
                if not matches:
                    raise IllegalActionError(f"job {j[k]}'s -inf scores are not 'every class outside one speed tier'")
                tier[k] = matches[0]
            action[self.n_scores + s] = -1.0 + (2.0 * bin_of_tier(tier, self.tiers) + 1.0) / (self.tiers + 1)
        elif never.any():
            raise IllegalActionError("these scores exclude some device classes (-inf); use tier_choice=True")
        return action

    def _encode_scores(self, scores: np.ndarray, slots) -> np.ndarray:
        st = self.static
        scores = np.asarray(scores, dtype=float)
        if scores.ndim == 1 and not self.per_class and np.isfinite(scores).all():  # the common, cheap case
            s, j = slots.occupied()
            action = np.zeros(self.space.shape, dtype=np.float32)
            levels, rank = np.unique(scores[j], return_inverse=True)
            if len(levels) > 1:
                action[s] = -1.0 + 2.0 * rank / (len(levels) - 1)
            if self.tier_choice:
                action[self.n_scores + s] = -1.0 + (2.0 * bin_of_tier(-1, self.tiers) + 1.0) / (self.tiers + 1)
            return action
        full = np.broadcast_to(np.asarray(scores, dtype=float), (st.n_classes, st.n_jobs))
        if np.isnan(full).any() or np.isposinf(full).any():
            raise IllegalActionError("scores must not be NaN or +inf")
        s, j = slots.occupied()
        sub = full[:, j]
        never = np.isneginf(sub)
        action = np.zeros(self.space.shape, dtype=np.float32)
        restricted = never.any(axis=0)
        if restricted.any():
            if not self.tier_choice:
                raise IllegalActionError("these scores exclude some device classes (-inf); use tier_choice=True")
            tier = np.full(len(s), -1)
            for k in np.flatnonzero(restricted):
                matches = [u for u in range(self.tiers) if np.array_equal(never[:, k], st.class_tier != u)]
                if not matches:
                    raise IllegalActionError(
                        f"job {j[k]}'s -inf scores are not 'every class outside one speed tier'; not expressible"
                    )
                tier[k] = matches[0]
        if self.tier_choice:
            tier = tier if restricted.any() else np.full(len(s), -1)
            b = bin_of_tier(tier, self.tiers)
            action[self.n_scores + s] = -1.0 + (2.0 * b + 1.0) / (self.tiers + 1)
        finite = np.where(never, np.nan, sub)
        if self.per_class:
            values = finite
        else:
            hi, lo = np.nanmax(np.where(never, -np.inf, sub), axis=0), np.nanmin(np.where(never, np.inf, sub), axis=0)
            if not np.array_equal(hi[~never.all(axis=0)], lo[~never.all(axis=0)]):
                raise IllegalActionError("these scores depend on the device class; use per_class_scores=True")
            values = np.where(never.all(axis=0), 0.0, hi)
        ok = ~np.isnan(values)
        levels = np.unique(values[ok])
        rank = np.searchsorted(levels, np.where(ok, values, levels[0] if len(levels) else 0.0))
        mapped = -1.0 + 2.0 * rank / max(len(levels) - 1, 1) if len(levels) > 1 else np.zeros_like(values)
        mapped = np.where(ok, mapped, -1.0)
        if self.per_class:
            table = np.zeros((self.max_classes, self.max_jobs), dtype=np.float32)
            table[np.ix_(self.class_index, s)] = mapped
            action[: self.n_scores] = table.reshape(-1)
        else:
            action[s] = mapped
        return action
