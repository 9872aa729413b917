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


def tier_of_bin(b: np.ndarray, tiers: int) -> np.ndarray:
    """Bin index -> tier (-1: any)."""
    mid = tiers // 2
    return np.where(b == mid, -1, np.where(b < mid, b, b - 1))


def bin_of_tier(u: np.ndarray, tiers: int) -> np.ndarray:
    mid = tiers // 2
    return np.where(u < 0, mid, np.where(u < mid, u, u + 1))


class PriorityActionCodec:
    def __init__(self, max_jobs: int, max_classes: int, per_class: bool, tier_choice: bool, hold_choices_s: tuple = ()):
        self.max_jobs = max_jobs
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
        if self.per_class:
            table = a[: self.n_scores].reshape(self.max_classes, self.max_jobs)
            scores = np.zeros((st.n_classes, st.n_jobs))
            scores[:, j] = table[self.class_index][:, s]
        else:
            scores = np.zeros(st.n_jobs)
            scores[j] = a[s]
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
    def encode(self, scores: np.ndarray, slots, hold_s: np.ndarray | None = None) -> np.ndarray:
        """An action that makes the simulator allocate exactly as ``scores`` would
        (same order within every device class, same ``-inf`` entries), and hold rounds back as
        ``hold_s`` (seconds per job; None: none), for the jobs in slots.
        Raises :class:`IllegalActionError` when this action layout cannot express them."""
        action = self._encode_scores(scores, slots)
        s, j = slots.occupied()
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
