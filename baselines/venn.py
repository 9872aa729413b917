"""Venn: contention-aware scheduling across job groups plus resource-aware tier matching.

Liu et al., "Venn: Resource Management for Collaborative Learning Jobs", MLSys 2025.

Scheduling. Jobs with the same requirement form a group; inside a group the job
with the smallest remaining demand goes first. Remaining demand counts the rest
of the current round plus every round still to come (remaining service), the
order that minimises average JCT within a group; the SRSF baseline, as in the
paper, looks at the current round only. Across groups, every device class
is first given to the scarcest group it is eligible for (supply = check-ins per
second of the classes a group may use). Then, from the most abundant group
down, a group also takes the devices of the next scarcer group while its
affected queue per unit of supply exceeds that group's (m'_j/|S'_j| > m'_k/|S'_k|);
it stops at the first "no". Other eligible jobs keep lower scores, so that no
device idles while a job could use it.

Matching. Devices fall into V speed tiers; g_u is tier u's 95th-percentile task
time over all devices'. At each round request a job whose last round had
response/scheduling ratio c picks a tier u at random and restricts the round to
it iff 1 + c > V + c * g_u.

Fairness. With e > 0, demands are scaled by (progress / fair progress)^e, where
the fair share of a job is (jobs in the system) x (its contention-free JCT).
"""

from __future__ import annotations

import numpy as np

from venn_gym.policy import Policy, rank_scores

_GROUP_FIRST = 1e6  # score offset of the jobs of the group a device class is allocated to


class VennPolicy(Policy):
    def __init__(self, scheduling: bool = True, matching: bool = True, fairness: float = 0.0):
        self.scheduling = scheduling
        self.matching = matching
        self.fairness = fairness
        suffix = "" if scheduling and matching else ("-no-sched" if not scheduling else "-no-match")
        self.name = "venn" + suffix + (f"(e={fairness:g})" if fairness else "")

    def reset(self, static, seed):
        self._rng = np.random.default_rng([seed, 0x7E44])
        self._tier = np.full(static.n_jobs, -1)

    # ------------------------------------------------------------- scores
    def scores(self, view, events):
        static = view.static
        demand = self._effective_demand(view)
        within = rank_scores(demand, view.arrival_s, np.arange(static.n_jobs))
        if self.scheduling:
            owner = self._allocate(view, demand)  # group (requirement) per class, -1 if none
            in_group = owner[:, None] == static.job_requirement[None, :]
            scores = np.where(in_group, within + _GROUP_FIRST, within)
        else:
            scores = np.broadcast_to(within, (static.n_classes, static.n_jobs)).copy()
        if self.matching:
            for event in events:
                if event.kind == "request":
                    self._tier[event.job] = self._pick_tier(view, event.job)
            restricted = np.flatnonzero(self._tier >= 0)
            if len(restricted):
                wrong_tier = static.class_tier[:, None] != self._tier[None, restricted]
                scores[:, restricted] = np.where(wrong_tier, -np.inf, scores[:, restricted])
        return scores

    def _effective_demand(self, view) -> np.ndarray:
        static = view.static
        remaining_rounds = np.maximum(static.job_rounds - view.rounds_done - 1, 0)
        demand = view.open_demand + remaining_rounds * static.job_participants.astype(float)
        if not self.fairness:
            return demand
        supply = view.class_supply_per_s @ static.class_eligible  # per requirement
        job_supply = np.maximum(supply[static.job_requirement], 1e-9)
        response = view.all_response_p95_s if np.isfinite(view.all_response_p95_s) else 0.0
        alone = static.job_rounds * (static.job_participants / job_supply + response)
        fair = max(1, int(view.active.sum())) * alone
        age = np.maximum(view.time_s - view.arrival_s, 1.0)
        progress = (view.rounds_done / static.job_rounds) / np.minimum(age / fair, 1.0)
        return demand * np.clip(progress, 0.1, 10.0) ** self.fairness

    def _allocate(self, view, demand: np.ndarray) -> np.ndarray:
        """Which group (requirement index) each device class serves first."""
        static = view.static
        eligible = static.class_eligible  # [class, requirement]
        supply_of_class = view.class_supply_per_s
        n_req = static.n_requirements
        queued = np.flatnonzero(view.active & (view.open_demand > 0))
        group_of = static.job_requirement[queued]
        order_in = np.lexsort((demand[queued], group_of))
        bounds = np.searchsorted(group_of[order_in], np.arange(n_req + 1))
        sorted_demand = demand[queued][order_in]
        queues = [sorted_demand[bounds[r]:bounds[r + 1]] for r in range(n_req)]
        total_supply = supply_of_class @ eligible
        by_scarcity = np.argsort(total_supply, kind="stable")
        # Each class goes to the scarcest group it is eligible for.
        rank = np.empty(n_req, dtype=np.int64)
        rank[by_scarcity] = np.arange(n_req)
        ranked = np.where(eligible, rank[None, :], n_req)
        scarcest = ranked.min(axis=1)
        owner = np.where(scarcest < n_req, by_scarcity[np.minimum(scarcest, n_req - 1)], -1)
        served = owner >= 0
        alloc = np.bincount(owner[served], weights=supply_of_class[served], minlength=n_req).tolist()
        # Few groups, short queues: plain Python beats array calls in this sequential pass.
        queues = [q.tolist() for q in queues]
        taken_by = list(range(n_req))
        order = by_scarcity[::-1].tolist()
        for pos, j in enumerate(order):
            if not queues[j] or alloc[j] <= 0:
                continue
            for k in order[pos + 1:]:
                if alloc[k] <= 0 and not queues[k]:
                    continue
                if not queues[k] or self._takes_over(queues[j], alloc[j], queues[k], alloc[k]):
                    # k is scarcer, so it has not taken anything over yet, and j is no one's.
                    taken_by[k] = j
                    alloc[j] += alloc[k]
                    alloc[k] = 0.0
                    queues[j] = sorted(queues[j] + queues[k])
                    queues[k] = []
                else:
                    break
        return np.where(served, np.asarray(taken_by)[owner], -1)

    @staticmethod
    def _takes_over(queue_j: list, supply_j: float, queue_k: list, supply_k: float) -> bool:
        """Does group j's affected queue per unit supply exceed k's? (Queues sorted, smallest first.)"""
        if supply_k <= 0:
            return True
        delay_k = sum(queue_k) / supply_k
        affected, waited = len(queue_j), 0.0
        if sum(queue_j) / supply_j > delay_k:  # some of j's jobs would wait longer than k's queue
            for position, demand in enumerate(queue_j):
                waited += demand / supply_j
                if waited >= delay_k:
                    affected = position
                    break
        return affected / supply_j > len(queue_k) / supply_k

    def _pick_tier(self, view, job: int) -> int:
        tiers = view.static.speed_tiers
        sched, resp = view.last_scheduling_delay_s[job], view.last_response_s[job]
        if tiers < 2 or sched <= 0 or not np.isfinite(view.all_response_p95_s):
            return -1
        u = int(self._rng.integers(tiers))
        g = view.tier_response_p95_s[u] / view.all_response_p95_s
        if not np.isfinite(g):
            return -1
        c = resp / sched
        return u if 1 + c > tiers + c * g else -1
