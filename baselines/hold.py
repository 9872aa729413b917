"""Hold doomed rounds back: any policy's scores, plus a round held back at its request when it
cannot expect to gather its devices before its deadline.

Under request-timed rounds (``paper/*-v1``) a round that does not fill in time fails, and the
devices it got are wasted. ``HoldDoomedRounds(base)`` asks, at each round request (a release
included), how many devices the round can expect within ``deadline - p95 task time`` in a fluid
model: each device class eligible for it brings its check-ins per second, less the open demand of
the jobs the base policy scores above it in that class (each such job's demand spread over its
eligible classes in proportion to their supply). A round that expects fewer devices than it asks
for, but would expect enough with no one ahead of it, is held back (:meth:`Simulation.hold_rounds`)
until the demand ahead of it should have been served, at least ``min_hold_s`` and at most its
deadline, and asks again then. The base policy's scores are unchanged; a held round simply gets
no device meanwhile.

Measured (paper/low-v1 and even-v1 x0.02, seeds 100-102, Venn as the base): it cuts failed
rounds by 50-70 % but not the mean JCT (0.5-15 % higher): a round that fails for lack of devices
got few, so little is wasted, and a held round gives up the devices it would have gathered.
"""

from __future__ import annotations

import numpy as np

from venn_gym.policy import Policy


class HoldDoomedRounds(Policy):
    def __init__(self, base: Policy, min_hold_s: float = 60.0):
        self.base = base
        self.min_hold_s = float(min_hold_s)
        self.name = f"{base.name}-hold"

    def reset(self, static, seed):
        self.base.reset(static, seed)
        self._scores = None

    def scores(self, view, events):
        self._scores = self.base.scores(view, events)
        return self._scores

    def holds(self, view, events):
        requested = [e.job for e in events if e.kind == "request"]
        if not requested:
            return None
        static = view.static
        scores = np.broadcast_to(np.asarray(self._scores, dtype=float), (static.n_classes, static.n_jobs))
        eligible = static.job_eligible  # [class, job]
        supply = view.class_supply_per_s  # [class]
        asking = view.active & (view.open_demand > 0) & np.isnan(view.round_held_until_s)
        # Each asking job's open demand, spread over its eligible classes by their supply.
        job_supply = supply @ eligible  # [job]
        spread = np.where(eligible & asking[None, :], supply[:, None], 0.0) / np.maximum(job_supply, 1e-12)
        demand_by_class = spread * view.open_demand[None, :]  # [class, job]
        p95 = view.all_response_p95_s if np.isfinite(view.all_response_p95_s) else 0.0
        hold_s = np.zeros(static.n_jobs)
        for j in requested:
            window = static.job_deadline_s[j] - p95
            classes = eligible[:, j]
            if window <= 0 or not classes.any():
                continue
            alone = supply[classes] * window
            if alone.sum() < static.job_participants[j]:
                continue  # it cannot expect to fill even with no one ahead: holding would not help it
            ahead = (demand_by_class[classes] * (scores[classes] > scores[classes, j][:, None])).sum(axis=1)
            if np.maximum(alone - ahead, 0.0).sum() >= static.job_participants[j]:
                continue
            clear_s = ahead.sum() / max(supply[classes].sum(), 1e-12)
            hold_s[j] = min(max(clear_s, self.min_hold_s), static.job_deadline_s[j])
        return hold_s
