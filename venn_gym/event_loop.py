"""The simulation's steps between two scheduling instants, compiled: matching check-ins up to the
next job event (the events that causes go on the heap), and handling the job events of an instant
(a round's end, a request, an arrival, a release, the horizon). :class:`~venn_gym.simulation.Simulation`
drives them and keeps what stays in Python: loading trace chunks, a policy's decisions, async task
ends, errors.

The state is the simulation's arrays, handed over in tuples (see ``Simulation._reset_state``):
``rounds`` (each job's current round), ``totals`` (what each job has done), ``info`` (fixed per
job), ``stall`` (the stall watch's progress marks), ``log`` (round attempts, when kept), ``out``
(the scheduling events of the instant, for the policy) and ``flags``.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from . import matching
from .compiled import borrowed, compiled, kernel_dispatch
from .event_heap import EventKind, heap_pop, heap_push

RELEASE = int(EventKind.RELEASE)  # the simulation's own kind (the matcher never writes it)

# flags[...]
TARGETS_DIRTY, DONE, HOLDS_MADE, DEADLINE_AT_REQUEST, KEEP_ROUNDS = range(5)

# Scheduling events in ``out``, by kind (SCHEDULING_KINDS names them).
ARRIVAL_EVENT, REQUEST_EVENT, ROUND_END_EVENT, JOB_END_EVENT, HORIZON_EVENT = range(5)
SCHEDULING_KINDS = ("arrival", "request", "round_end", "job_end", "horizon")

# Why handle_instant returned: the instant is handled, or it popped a live async task end.
INSTANT_DONE, ASYNC_TASK_END = range(2)
# Why match_to_event returned, beyond the matcher's reasons (matching.REACHED_END, ...).
NEED_CHUNK = 10  # the chunk is used up before the next event
REPLAY_ASYNC = 11  # async task ends were written: the simulation keeps them per job


class PolicyKernel(NamedTuple):
    """A policy's scores as compiled code (:meth:`~venn_gym.policy.Policy.kernel`): ``state``, an
    instance of the policy's own ``typing.NamedTuple`` class, for which the policy registered a
    compiled function with :func:`policy_kernel` (``register(policy_kernel, StateClass, function)``,
    :func:`venn_gym.compiled.register`); ``scores``, the array that function rewrites (shape
    (1, n_jobs) or (n_classes, n_jobs), at first -inf); ``on_chunk``, for what a policy recomputes
    only when the supply estimate changes, called with the view's ``class_supply_per_s`` at the
    start and after each trace chunk is loaded."""

    state: Any
    scores: np.ndarray
    on_chunk: Callable[[np.ndarray], None] | None = None  # given each trace chunk's class supply


@kernel_dispatch
def policy_kernel(state, events, view, scores):
    """At every scheduling instant with events, rewrite ``scores`` in place as the policy's
    :meth:`~venn_gym.policy.Policy.scores` would return them. ``events``: the instant's scheduling
    events as (time, kind, job, success, [count]) arrays, kinds numbered as :data:`SCHEDULING_KINDS`;
    ``view``: the state as :data:`KERNEL_VIEW` names it, live arrays to read only; ``state``: the
    policy's own."""


# What a kernel's ``view`` holds, in order: the fields of SchedulerView of the same names (the time
# and the overall p95 as arrays of one), live.
KERNEL_VIEW = (
    "time_s",
    "active",
    "arrival_s",
    "rounds_done",
    "open_demand",
    "assigned",
    "results",
    "round_request_s",
    "round_held_until_s",
    "attained",
    "failed_rounds",
    "last_scheduling_delay_s",
    "last_response_s",
    "class_supply_per_s",
    "tier_response_p95_s",
    "all_response_p95_s",
)


def flags_array(deadline_at_request: bool, keep_rounds: bool) -> np.ndarray:
    flags = np.zeros(5, dtype=np.int64)
    flags[DEADLINE_AT_REQUEST], flags[KEEP_ROUNDS], flags[TARGETS_DIRTY] = deadline_at_request, keep_rounds, 1
    return flags


def event_out(capacity: int) -> tuple:
    """(time, kind, job, success, [count]): the scheduling events written since the count was reset."""
    return (
        np.empty(capacity),
        np.empty(capacity, np.int64),
        np.empty(capacity, np.int64),
        np.empty(capacity, np.bool_),
        np.zeros(1, np.int64),
    )


def round_log(capacity: int) -> tuple:
    """Round attempts as RoundRecord's fields in arrays, then [count]."""
    i8, f8 = np.int64, np.float64
    kinds = (i8, i8, i8, f8, f8, f8, np.bool_, i8, i8, f8)
    return (*(np.empty(capacity, k) for k in kinds), np.zeros(1, np.int64))


@compiled
def scheduling_event(out, time, kind, job, success):
    n = out[4][0]
    out[0][n], out[1][n], out[2][n], out[3][n] = time, kind, job, success
    out[4][0] = n + 1


@compiled
def mark_progress(j, time, totals, stall):
    """Job j made progress (it arrived, or a round of it succeeded): the stall watch's marks."""
    clock, mark_time, mark_tasks, mark_dropped, mark_failed = stall
    clock[0] = time
    mark_time[j] = time
    mark_tasks[j] = totals[13][j]
    mark_dropped[j] = totals[14][j]
    mark_failed[j] = totals[4][j]


@compiled
def end_job(j, time, totals, stall, out):
    totals[0][j] = False
    totals[1][j] = True
    totals[2][j] = time
    stall[0][0] = time
    scheduling_event(out, time, JOB_END_EVENT, j, True)


@compiled
def request_round(j, time, heap, rounds, info, flags, out):
    """Start job j's next round (its attempt counter moved on when the previous one ended)."""
    (
        job_open,
        assigned,
        results,
        attempt,
        request_s,
        dispatch_s,
        quorum_dispatch_s,
        last_assign_s,
        close_s,
        held_until_s,
        kept_size,
        participants,
    ) = rounds
    request_s[j] = time
    job_open[j] = participants[j]
    assigned[j] = 0
    dispatch_s[j] = np.nan
    quorum_dispatch_s[j] = np.nan
    last_assign_s[j] = time
    close_s[j] = np.inf
    results[j] = 0
    kept_size[j] = 0
    flags[TARGETS_DIRTY] = 1
    if flags[DEADLINE_AT_REQUEST] and not info[1][j]:
        heap_push(heap, time + info[2][j], matching.DEADLINE, j, attempt[j])
    scheduling_event(out, time, REQUEST_EVENT, j, True)


@compiled
def end_round(j, time, success, heap, rounds, totals, info, stall, log, flags, out):
    """Job j's round ends at ``time`` (its quorum, or its deadline without it); then its next round
    is requested, or the job ends."""
    job_open, assigned, results, attempt, request_s, dispatch_s, quorum_dispatch_s, last_assign_s = rounds[:8]
    rounds_done, failed_rounds, attained, wasted, stragglers = totals[3], totals[4], totals[5], totals[6], totals[7]
    scheduling_s, response_s, queuing_s, last_scheduling_s, last_response_s = totals[8:13]
    quorum, job_rounds = info[0], info[3]
    request = request_s[j]
    # A round whose quorum formed before its last device was found ends its scheduling phase at
    # its last assignment.
    dispatch = dispatch_s[j]
    if np.isnan(dispatch):
        dispatch = last_assign_s[j]
    dispatch = min(max(dispatch, request), time)
    last_scheduling_s[j] = dispatch - request
    last_response_s[j] = time - dispatch
    scheduling_s[j] += dispatch - request
    response_s[j] += time - dispatch
    # Queuing delay (the authors' measure): request to the dispatch of the quorum-th device, or to
    # the round's end if fewer were dispatched.
    quorum_dispatch = quorum_dispatch_s[j]
    if np.isnan(quorum_dispatch):
        quorum_dispatch = time
    queuing_s[j] += quorum_dispatch - request
    if flags[KEEP_ROUNDS]:
        n = log[10][0]
        log[0][n], log[1][n], log[2][n], log[3][n], log[4][n] = j, rounds_done[j], attempt[j], request, dispatch
        log[5][n], log[6][n], log[7][n], log[8][n], log[9][n] = time, success, assigned[j], results[j], quorum_dispatch
        log[10][0] = n + 1
    attempt[j] += 1
    job_open[j] = 0
    flags[TARGETS_DIRTY] = 1
    if success:
        mark_progress(j, time, totals, stall)
        rounds_done[j] += 1
        attained[j] += quorum[j]
        stragglers[j] += results[j] - quorum[j]
    else:
        failed_rounds[j] += 1
        wasted[j] += assigned[j]
    scheduling_event(out, time, ROUND_END_EVENT, j, success)
    if rounds_done[j] >= job_rounds[j]:
        end_job(j, time, totals, stall, out)
    else:
        request_round(j, time, heap, rounds, info, flags, out)


@compiled
def instant_room(heap, log, out, flags):
    """The capacities the round log and the scheduling events need before an instant is handled:
    each event handled writes at most one round (when they are kept) and three scheduling events."""
    events = heap[5][0] + 1
    return (log[10][0] + events) if flags[KEEP_ROUNDS] else 0, out[4][0] + 3 * events


@compiled
def handle_instant(time, heap, rounds, totals, info, stall, log, flags, out):
    """Handle the heap's events at ``time``, in order, until none is left at that time (returns
    (INSTANT_DONE, -1)) or a live async task end is popped (returns (ASYNC_TASK_END, its job)):
    the simulation handles that one, then calls again. It pushes no more than it pops (a request's
    deadline for its round's end), so the heap needs no room beyond its size; the round log and the
    scheduling events need :func:`instant_room`."""
    attempt, close_s, held_until_s, request_s = rounds[3], rounds[8], rounds[9], rounds[4]
    active = totals[0]
    deadline_s = info[2]
    while heap[5][0] > 0 and heap[0][0] == time:
        _, kind, j, tag = heap_pop(heap)
        if kind == matching.ARRIVAL:
            active[j] = True
            mark_progress(j, time, totals, stall)
            scheduling_event(out, time, ARRIVAL_EVENT, j, True)
            request_round(j, time, heap, rounds, info, flags, out)
            continue
        if kind == matching.HORIZON:
            flags[DONE] = 1
            scheduling_event(out, time, HORIZON_EVENT, -1, True)
            continue
        if not active[j] or tag != attempt[j]:
            continue  # stale: that round has already ended
        if kind == matching.CLOSE:
            if time == close_s[j]:
                end_round(j, time, True, heap, rounds, totals, info, stall, log, flags, out)
        elif kind == matching.DEADLINE:
            if flags[HOLDS_MADE] and flags[DEADLINE_AT_REQUEST]:
                # The deadline of a request that a hold withdrew: a held round's release makes a
                # new request, with a later deadline.
                if not np.isnan(held_until_s[j]) or time != request_s[j] + deadline_s[j]:
                    continue
            end_round(j, time, False, heap, rounds, totals, info, stall, log, flags, out)
        elif kind == matching.TASK_END:
            return ASYNC_TASK_END, j
        elif kind == RELEASE and time == held_until_s[j]:  # a later hold moved any other release
            held_until_s[j] = np.nan
            request_round(j, time, heap, rounds, info, flags, out)
    return INSTANT_DONE, -1


@compiled
def push_written(heap, events, n):
    """Push the first ``n`` events the matcher wrote, in its order (the heap breaks ties by push
    order); returns whether any is an async task end (the simulation also keeps those per job)."""
    has_async = False
    for e in range(n):
        heap_push(heap, events[0][e], events[1][e], events[2][e], events[3][e])
        has_async = has_async or events[1][e] == matching.TASK_END
    return has_async


@compiled
def match_to_event(
    pos,
    chunk_len,
    chunk_end_s,
    stop_choices,
    record,
    heap,
    matcher,
    scores,
    eligible,
    shares,
    flags,
):
    """Match check-ins from ``pos`` up to the heap's next event, pushing the events that causes.
    Returns (why, next position, pending check-in or -1, events written by the last matcher call,
    assignments recorded by it): why is ``matching.REACHED_END`` (the next event is due),
    ``NEED_CHUNK``, ``REPLAY_ASYNC`` (the last call wrote async task ends; the matcher's own reason
    is then in the returned pending check-in and in ``flags``), or the matcher's ``CHECKIN_PENDING``,
    ``TARGETS_CHANGED`` (also in ``flags``) or ``BUFFER_FULL`` (its records, or no more heap room)."""
    events = matcher[10]
    room = len(heap[0]) - len(events[0])
    while True:
        t_end = heap[0][0] if heap[5][0] > 0 else np.inf
        if pos >= chunk_len:
            if chunk_end_s >= t_end:
                return matching.REACHED_END, pos, -1, 0, 0
            return NEED_CHUNK, pos, -1, 0, 0
        if heap[5][0] > room:
            return matching.BUFFER_FULL, pos, -1, 0, 0
        why, pos, pending, n_ev, n_rec = matching.match_checkins(
            pos,
            chunk_len,
            t_end,
            stop_choices,
            not flags[DEADLINE_AT_REQUEST],
            record,
            matcher,
            scores,
            eligible,
            shares,
        )
        if why == matching.TARGETS_CHANGED:
            flags[TARGETS_DIRTY] = 1
        if push_written(heap, events, n_ev):
            return REPLAY_ASYNC, pos, pending, n_ev, n_rec
        if n_rec or why == matching.CHECKIN_PENDING or why == matching.TARGETS_CHANGED:
            return why, pos, pending, n_ev, n_rec
        if why == matching.REACHED_END:
            return why, pos, pending, n_ev, n_rec


# Why run_with_kernel returned (beyond NEED_CHUNK and the matcher's BUFFER_FULL: heap room).
RUN_DONE = 12  # the run is over (every job ended, or the horizon)
STALL_CHECK = 13  # the stall watch's count of instants is due for a look
NO_EVENT_LEFT = 14  # no job event is left and the trace cannot help
NEED_ROOM = 15  # the round log or the scheduling events need more room before the next instant
RECORDS = 16  # the matcher recorded assignments (record_assignments)


@compiled
def _all_ended(ended):
    for j in range(len(ended)):
        if not ended[j]:
            return False
    return True


@compiled
def run_with_kernel(
    policy_state,
    scores,
    pos,
    chunk_len,
    chunk_end_s,
    record,
    heap,
    matcher,
    eligible,
    rounds,
    totals,
    info,
    stall,
    instants,
    log,
    flags,
    out,
    view,
):
    """The simulation's loop with a compiled policy: at every scheduling instant with events,
    ``policy_kernel(policy_state, out, view, scores)`` rewrites ``scores`` in place, as the policy's
    :meth:`~venn_gym.policy.Policy.scores` would return them. Runs until it needs the simulation:
    returns (why, next check-in position, assignments the last matcher call recorded); ``view[0][0]``
    holds the time of the last instant. ``instants``: [scheduling instants counted, the limit]."""
    # The simulation holds these arrays until this returns, and none is returned or kept: borrowed,
    # they skip reference counting, a fifth of a long run's time.
    heap, matcher, eligible, rounds, totals, info, stall, instants, log, flags, out, view, scores = borrowed(
        (heap, matcher, eligible, rounds, totals, info, stall, instants, log, flags, out, view, scores)
    )
    no_shares = np.empty((0, 0))
    target_table, target_count = matcher[0], matcher[1]
    while True:
        if out[4][0] > 0:
            policy_kernel(policy_state, out, view, scores)
            out[4][0] = 0
            flags[TARGETS_DIRTY] = 1
        if flags[TARGETS_DIRTY]:
            matching.target_table(scores, eligible, rounds[0], target_table, target_count)
            flags[TARGETS_DIRTY] = 0
        why, pos, _, _, n_rec = match_to_event(
            pos, chunk_len, chunk_end_s, 0, record, heap, matcher, scores, eligible, no_shares, flags
        )
        if n_rec:
            return RECORDS, pos, n_rec
        if why == matching.TARGETS_CHANGED:  # match_to_event marked the targets dirty
            continue
        if why != matching.REACHED_END:
            return why, pos, 0
        if heap[5][0] == 0:
            return NO_EVENT_LEFT, pos, 0
        log_needed, out_needed = instant_room(heap, log, out, flags)
        if len(log[0]) < log_needed or len(out[0]) < out_needed:
            return NEED_ROOM, pos, 0
        time = heap[0][0]
        view[0][0] = time
        handle_instant(time, heap, rounds, totals, info, stall, log, flags, out)
        if flags[DONE] or _all_ended(totals[1]):
            flags[DONE] = 1
            out[4][0] = 0
            return RUN_DONE, pos, 0
        instants[0] += 1
        if instants[0] >= instants[1]:
            return STALL_CHECK, pos, 0
