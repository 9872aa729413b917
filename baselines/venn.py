"""Venn: contention-aware scheduling across job groups plus resource-aware tier matching.

Liu et al., "Venn: Resource Management for Collaborative Learning Jobs", MLSys 2025.

Scheduling. Jobs with the same requirement form a group; inside a group the job
with the smallest remaining demand goes first. Remaining demand counts the rest
of the current round plus every round still to come (remaining service,
``order_key="service"``), the order that minimises average JCT within a group.
The authors' simulator (SymbioticLab/Venn, src/venn.py, VennReqScheduler) orders
by the current round's remaining demand, as SRSF does (``order_key="round"``,
the ``venn-ref`` policy). Across groups, every device class
is first given to the scarcest group it is eligible for (supply = check-ins per
second of the classes a group may use). Then, from the most abundant group
down, a group also takes the devices of the next scarcer group while its
affected queue per unit of supply exceeds that group's (m'_j/|S'_j| > m'_k/|S'_k|);
it stops at the first "no". Other eligible jobs keep lower scores, so that no
device idles while a job could use it. ``take_over_margin`` (alpha, 1 in the paper)
generalises the test to m'_j/|S'_j| > alpha * m'_k/|S'_k|, for studies of the rule
(benchmarks/venn_knobs.py).

Matching. Devices fall into V speed tiers; g_u is tier u's 95th-percentile task
time over all devices'. At each round request a job whose last round had
response/scheduling ratio c picks a tier u at random and restricts the round to
it iff 1 + c > V + c * g_u.

Fairness. With e > 0, demands are scaled by (progress / fair progress)^e, where
the fair share of a job is (jobs in the system) x (its contention-free JCT).

Admission (the authors' check, off unless ``admission > 0``; 0.5 in their code). At
each round request, a job whose ``admission`` x participants per minute of deadline
(``participants / floor(deadline_s / 60)``) exceeds the check-ins per minute of the
devices it may use is rejected for that round: it gets no devices, its round fails
at its deadline, and the check runs again at the next request. The authors count
the last 100 check-ins of the category; here the supply estimate of the view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from venn_gym.compiled import compiled
from venn_gym.errors import SpecError
from venn_gym.policy import Policy, rank_order, scores_of_order
from venn_gym.seeds import VENN_STREAM, stream

ORDER_KEYS = ("service", "round")  # remaining service (venn_gym's Venn), current round's demand (authors')
_GROUP_FIRST = 1e6  # score offset of the jobs of the group a device class is allocated to


@dataclass(frozen=True)
class VennDecision:
    """One Venn decision in compact form: ``job_order`` ranks jobs (higher first),
    ``class_group[c]`` is the group (requirement index) device class c serves first
    (-1: none), ``job_tier[j]`` the speed tier job j's round is restricted to (-1: any),
    ``job_rejected[j]`` whether the admission check turned job j's round away (None: none was).
    :meth:`scores` expands it into the (class x job) matrix the simulator takes."""

    job_order: np.ndarray
    class_group: np.ndarray
    job_tier: np.ndarray
    job_rejected: Optional[np.ndarray] = None

    def scores(self, static) -> np.ndarray:
        in_group = self.class_group[:, None] == static.job_requirement[None, :]
        scores = np.where(in_group, self.job_order + _GROUP_FIRST, self.job_order)
        restricted = np.flatnonzero(self.job_tier >= 0)
        if len(restricted):
            wrong_tier = static.class_tier[:, None] != self.job_tier[None, restricted]
            scores[:, restricted] = np.where(wrong_tier, -np.inf, scores[:, restricted])
        if self.job_rejected is not None:
            scores[:, self.job_rejected] = -np.inf
        return scores


class VennPolicy(Policy):
    def __init__(
        self,
        scheduling: bool = True,
        matching: bool = True,
        fairness: float = 0.0,
        take_over_margin: float = 1.0,
        order_key: str = "service",
        admission: float = 0.0,
    ):
        if not take_over_margin >= 0:
            raise SpecError(f"take_over_margin (alpha) must be >= 0 (inf: no take-over), got {take_over_margin}")
        if order_key not in ORDER_KEYS:
            raise SpecError(f"order_key must be one of {', '.join(ORDER_KEYS)}, got {order_key!r}")
        if not admission >= 0:
            raise SpecError(f"admission must be >= 0 (0: no admission check), got {admission}")
        self.scheduling = scheduling
        self.matching = matching
        self.fairness = fairness
        self.take_over_margin = float(take_over_margin)
        self.order_key = order_key
        self.admission = float(admission)
        suffix = "" if scheduling and matching else ("-no-sched" if not scheduling else "-no-match")
        if order_key == "round":
            suffix = "-ref" + suffix
        knobs = []
        if fairness:
            knobs.append(f"e={fairness:g}")
        if take_over_margin != 1.0:
            knobs.append(f"alpha={take_over_margin:g}")
        if admission:
            knobs.append(f"admission={admission:g}")
        self.name = "venn" + suffix + (f"({','.join(knobs)})" if knobs else "")

    def reset(self, static, seed):
        self._rng = stream(seed, VENN_STREAM)
        self._tier = np.full(static.n_jobs, -1)
        self._rejected = np.zeros(static.n_jobs, dtype=bool)
        self._eligible = static.class_eligible.astype(float)  # [class, requirement], for supply sums

    # ------------------------------------------------------------- scores
    def scores(self, view, events):
        return self.decide(view, events).scores(view.static)

    def decide(self, view, events) -> VennDecision:
        """The scheduling decision itself (group allocation, order, tiers), without the score matrix."""
        static = view.static
        if self.admission:
            self._admit(view, events)
        demand = self._effective_demand(view)
        order = rank_order(demand, view.arrival_s)
        if self.scheduling:
            class_group = self._allocate(view, demand, order)
        else:
            class_group = np.full(static.n_classes, -1)
        if self.matching:
            for event in events:
                if event.kind == "request":
                    self._tier[event.job] = self._pick_tier(view, event.job)
        tiers = self._tier.copy() if self.matching else np.full(static.n_jobs, -1)
        rejected = self._rejected.copy() if self._rejected.any() else None
        return VennDecision(scores_of_order(order), class_group, tiers, rejected)

    def _admit(self, view, events) -> None:
        """The authors' admission check, at each round request (see the module docstring)."""
        static = view.static
        for event in events:
            if event.kind == "request":
                j = event.job
                minutes = static.job_deadline_s[j] // 60
                supply_per_min = 60.0 * (view.class_supply_per_s @ static.job_eligible[:, j])
                asked_per_min = static.job_participants[j] / minutes if minutes > 0 else np.inf
                self._rejected[j] = self.admission * asked_per_min > supply_per_min
            elif event.kind == "job_end":
                self._rejected[event.job] = False

    def _effective_demand(self, view) -> np.ndarray:
        static = view.static
        if self.order_key == "round":
            demand = view.open_demand.astype(float)
        else:
            demand = view.remaining_demand
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

    def _allocate(self, view, demand: np.ndarray, order: np.ndarray) -> np.ndarray:
        """Which group (requirement index) each device class serves first (``order``: jobs
        by ascending demand)."""
        static = view.static
        eligible = static.class_eligible  # [class, requirement]
        supply_of_class = view.class_supply_per_s
        n_req = static.n_requirements
        small_int = np.min_scalar_type(n_req)  # small integer types sort and compare fastest
        # Queues by group, each ascending.
        queued = view.active & (view.open_demand > 0) & ~self._rejected  # a rejected round asks for nothing
        by_demand = order[queued[order]]
        group_of = static.job_requirement[by_demand].astype(small_int)
        by_group = np.argsort(group_of, kind="stable")
        sorted_demand = demand[by_demand[by_group]]
        bounds = np.zeros(n_req + 1, dtype=np.int64)
        np.cumsum(np.bincount(group_of, minlength=n_req), out=bounds[1:])
        total_supply = supply_of_class @ self._eligible
        by_scarcity = np.argsort(total_supply, kind="stable")
        # Each class goes to the scarcest group it is eligible for: the eligible group
        # with the largest weight n_req - (rank by scarcity); weight 0: none.
        weight = np.empty(n_req, dtype=small_int)
        weight[by_scarcity] = np.arange(n_req, 0, -1)
        best = (eligible.view(np.uint8) * weight).max(axis=1).astype(np.int64)
        owner = np.where(best > 0, by_scarcity[np.minimum(n_req - best, n_req - 1)], -1)
        served = owner >= 0
        alloc = np.bincount(owner[served], weights=supply_of_class[served], minlength=n_req)
        taken_by = _take_over(by_scarcity[::-1].copy(), bounds, sorted_demand, alloc, self.take_over_margin)
        return np.where(served, taken_by[owner], -1)

    def _pick_tier(self, view, job: int) -> int:
        tiers = view.static.speed_tiers
        sched, resp = view.last_scheduling_delay_s[job], view.last_response_s[job]
        if tiers < 2 or sched <= 0 or not np.isfinite(view.all_response_p95_s):
            return -1
        u = int(self._rng.integers(tiers))
        with np.errstate(divide="ignore", invalid="ignore"):  # zero-time tasks: 0 / 0, handled below
            g = view.tier_response_p95_s[u] / view.all_response_p95_s
        if not np.isfinite(g):
            return -1
        c = resp / sched
        return u if 1 + c > tiers + c * g else -1


@compiled
def _take_over(order, bounds, sorted_demand, alloc, margin=1.0):
    """The sequential take-over pass. Groups in ``order`` (most abundant first); group
    g's queue is ``sorted_demand[bounds[g]:bounds[g + 1]]`` (ascending), ``alloc[g]``
    its supply. From the most abundant group down, a group takes over the next scarcer
    group while its affected queue per unit of supply exceeds ``margin`` times that group's
    (m'_j/|S'_j| > margin * m'_k/|S'_k|), and stops at the first "no"; a group without queue or
    supply is taken over, one without both skipped. Returns the group that serves
    each group's devices. Sums run in queue order, as in a plain loop.
    """
    n_req = len(alloc)
    alloc = alloc.copy()
    taken_by = np.arange(n_req)
    length = bounds[1:] - bounds[:-1]  # queue length per group (0 once taken over)
    merged = np.empty(len(sorted_demand))  # the current head's queue, ascending
    spare = np.empty(len(sorted_demand))
    for pos in range(len(order)):
        j = order[pos]
        if length[j] == 0 or alloc[j] <= 0:
            continue
        n = length[j]
        merged[:n] = sorted_demand[bounds[j] : bounds[j] + n]
        for k in order[pos + 1 :]:
            if alloc[k] <= 0 and length[k] == 0:
                continue
            queue_k = sorted_demand[bounds[k] : bounds[k] + length[k]]
            if (
                length[k] > 0
                and alloc[k] > 0
                and not _affected_queue_longer(merged[:n], alloc[j], queue_k, alloc[k], margin)
            ):
                break
            # k is scarcer, so it has not taken anything over yet, and j is no one's.
            taken_by[k] = j
            alloc[j] += alloc[k]
            alloc[k] = 0.0
            a = b = 0
            while a < n or b < length[k]:  # merge the two ascending queues
                if b == length[k] or (a < n and merged[a] <= queue_k[b]):
                    spare[a + b] = merged[a]
                    a += 1
                else:
                    spare[a + b] = queue_k[b]
                    b += 1
            n += length[k]
            length[k] = 0
            merged, spare = spare, merged
    return taken_by


@compiled
def _affected_queue_longer(queue_j, supply_j, queue_k, supply_k, margin):
    """Does group j's affected queue per unit supply exceed ``margin`` times k's? (Queues ascending.)"""
    delay_k = 0.0
    for demand in queue_k:
        delay_k += demand
    delay_k /= supply_k
    total_j = 0.0
    for demand in queue_j:
        total_j += demand
    affected = len(queue_j)
    if total_j / supply_j > delay_k:  # some of j's jobs would wait longer than k's queue
        waited = 0.0
        for position in range(len(queue_j)):
            waited += queue_j[position] / supply_j
            if waited >= delay_k:
                affected = position
                break
    return affected / supply_j > margin * len(queue_k) / supply_k
