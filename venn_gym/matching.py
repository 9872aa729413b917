"""The matcher: check-ins to jobs between two scheduling events, compiled with numba.

Between two scheduling events the allocation is fixed, so :class:`~venn_gym.simulation.Simulation`
hands whole runs of check-ins to :func:`match_checkins`. It works in segments of at most
``SEGMENT`` check-ins. In each segment a check-in tentatively goes to the job its class's
target table names (ties broken by the check-in's own uniform draw, in proportion to the
allocation's shares where it has them: :func:`pick_target`), unless its device is busy.
The segment is then cut at the first of:
- a device checking in again after its first, tentatively assigned, window ended (it is
  settled in the next segment; one checking in while that window is open is busy);
- the check-in that fills a request (the targets change);
- the first check-in at or after a quorum that the segment's own results complete (events come
  before check-ins at the same instant).
Under ``device_once_per_round`` a device whose class's first choice is a round it already served
falls through to the next score level (:func:`allowed_targets`); ``served[job, device]`` holds the
last round attempt the device served of each job.
The kept assignments are then applied, and the events they cause (a round's close, a
dispatch-timed deadline, an async task's end) are written to a buffer that the simulation
pushes on its heap in the same order.

A round's quorum time is the Q-th smallest finish among its successful results; the Q smallest
are kept per job in a max-heap (``kept``), so a new result costs O(log Q).

Without numba the same functions run as plain Python: correct, and far slower.
"""

from __future__ import annotations

import os

import numpy as np

from .compiled import compiled as _compiled
from .job_state import task_seconds_compiled


def compiled_on_disk() -> bool:
    """Whether numba's on-disk cache already holds the matcher (if not, the first run in this
    environment compiles it and the event loop, which takes 10-30 s per policy, once)."""
    try:
        return os.path.exists(match_checkins._cache._cache_file._index_path)
    except AttributeError:  # plain Python (no numba), or a numba whose cache looks different
        return True


SEGMENT = 4096  # check-ins per matching step
RESPONSE_SAMPLE = 8192  # recent task times kept (with their tier) for the tiers' percentiles

# Event kinds, in the order they are handled when they fall at the same time.
CLOSE, DEADLINE, TASK_END, ARRIVAL, HORIZON = range(5)

# Why match_checkins returned.
REACHED_END, CHUNK_DONE, TARGETS_CHANGED, CHECKIN_PENDING, BUFFER_FULL = range(5)


def event_buffer(n_jobs: int) -> tuple:
    """(time, kind, job, attempt, success) of the events one call may cause: room for a segment's."""
    size = 2 * (SEGMENT + 2 * n_jobs)
    return (
        np.empty(size),
        np.empty(size, np.int64),
        np.empty(size, np.int64),
        np.empty(size, np.int64),
        np.empty(size, np.bool_),
    )


def scratch_buffers(n_jobs: int) -> tuple:
    """(tentative check-ins, their jobs, allowed jobs, new finishes): match_checkins' working arrays,
    made once per simulation rather than at every call."""
    return np.empty(SEGMENT, np.int64), np.empty(SEGMENT, np.int64), np.empty(n_jobs, np.int64), np.empty(SEGMENT)


def record_buffer() -> tuple:
    """(check-in, job, finish, success) of the assignments one call makes, when they are recorded."""
    size = 4 * SEGMENT
    return np.empty(size, np.int64), np.empty(size, np.int64), np.empty(size), np.empty(size, np.bool_)


@_compiled
def target_table(scores, eligible, job_open, table, count):
    """Per device class, the jobs a check-in may go to: eligible, with open demand, and of the
    class's highest finite score. ``scores`` is (classes x jobs), or (1 x jobs) for every class.
    Writes row c of ``table`` (classes x jobs) with class c's ``count[c]`` targets, ascending."""
    n_classes, n_jobs = eligible.shape
    per_class = scores.shape[0] > 1
    for c in range(n_classes):
        row = c if per_class else 0
        best = -np.inf
        filled = 0
        for j in range(n_jobs):
            score = scores[row, j]
            if not eligible[c, j] or job_open[j] <= 0 or not score > -np.inf or score < best:
                continue
            if score > best:
                best = score
                filled = 0
            table[c, filled] = j
            filled += 1
        count[c] = filled


@_compiled
def allowed_targets(c, d, scores, eligible, job_open, served, attempt, out):
    """Under ``device_once_per_round``: the jobs a check-in of device ``d`` (class ``c``) may go
    to, written ascending to ``out``; returns how many. Of the eligible jobs with open demand and a
    finite score whose current round ``d`` has not served, those of the highest score: a device
    that served its class's first choice falls through to the next score level."""
    row = c if scores.shape[0] > 1 else 0
    best = -np.inf
    count = 0
    for j in range(eligible.shape[1]):
        score = scores[row, j]
        if not eligible[c, j] or job_open[j] <= 0 or not score > -np.inf or served[j, d] == attempt[j]:
            continue
        if score > best:
            best = score
            count = 0
        if score == best:
            out[count] = j
            count += 1
    return count


@_compiled
def pick_target(targets, n, tie, shares, row):
    """The job of ``targets[:n]`` a check-in with uniform draw ``tie`` goes to: uniformly, or, when
    ``shares`` is given (not 0 x 0), in proportion to ``shares[row, job]`` (all zero: uniformly)."""
    if shares.shape[0] > 0:
        total = 0.0
        for m in range(n):
            total += shares[row, targets[m]]
        if total > 0:
            x = tie * total
            acc = 0.0
            for m in range(n):
                acc += shares[row, targets[m]]
                if x < acc:
                    return targets[m]
            for m in range(n - 1, -1, -1):  # rounding left x at the total: the last job with a share
                if shares[row, targets[m]] > 0:
                    return targets[m]
    return targets[uniform_index(n, tie)]


@_compiled
def uniform_index(n, tie):
    """The index that a check-in with uniform draw ``tie`` picks among ``n`` tied jobs, without shares."""
    return min(int(tie * n), n - 1)


@_compiled
def _served_a_target(c, d, target_table, target_count, served, attempt):
    """Whether device ``d`` served the current round of one of class ``c``'s first choices."""
    for m in range(target_count[c]):
        j = target_table[c, m]
        if served[j, d] == attempt[j]:
            return True
    return False


@_compiled
def _keep_smallest(kept_vals, off, kept_size, j, need, value):
    """Add ``value`` to job j's max-heap of its round's ``need`` smallest finishes."""
    s = kept_size[j]
    if s < need:
        i = s
        kept_vals[off + i] = value
        while i > 0:
            parent = (i - 1) // 2
            if kept_vals[off + parent] >= kept_vals[off + i]:
                break
            kept_vals[off + parent], kept_vals[off + i] = kept_vals[off + i], kept_vals[off + parent]
            i = parent
        kept_size[j] = s + 1
    elif value < kept_vals[off]:
        kept_vals[off] = value
        i = 0
        while True:
            left = 2 * i + 1
            if left >= need:
                break
            child = left
            if left + 1 < need and kept_vals[off + left + 1] > kept_vals[off + left]:
                child = left + 1
            if kept_vals[off + child] <= kept_vals[off + i]:
                break
            kept_vals[off + child], kept_vals[off + i] = kept_vals[off + i], kept_vals[off + child]
            i = child


@_compiled
def _quorum_time(j, new_finish, n_new, need, close_candidate, kept_vals, kept_off, kept_size):
    """When job j's round gets its Q-th result, counting ``new_finish[:n_new]`` too (inf if never)."""
    size = kept_size[j]
    if size + n_new < need:
        return np.inf
    current = close_candidate[j]
    if current < np.inf:
        earlier = False
        for i in range(n_new):
            if new_finish[i] < current:
                earlier = True
                break
        if not earlier:
            return current
    merged = np.empty(size + n_new)
    merged[:size] = kept_vals[kept_off[j] : kept_off[j] + size]
    merged[size:] = new_finish[:n_new]
    return np.partition(merged, need - 1)[need - 1]


@_compiled
def add_results(j, finish, n, quorum, close_candidate, kept_vals, kept_off, kept_size):
    """Job j's round got the successful results ``finish[:n]``. Returns its new quorum time if
    that moved earlier (a close event to push), else NaN."""
    need = quorum[j]
    if kept_size[j] >= need:
        earlier = False
        for i in range(n):
            if finish[i] < close_candidate[j]:
                earlier = True
                break
        if not earlier:
            return np.nan
    off = kept_off[j]
    for i in range(n):
        _keep_smallest(kept_vals, off, kept_size, j, need, finish[i])
    if kept_size[j] < need:
        return np.nan
    tau = kept_vals[off]
    if tau < close_candidate[j]:
        close_candidate[j] = tau
        return tau
    return np.nan


@_compiled
def task_outcomes(tent, tent_job, take, ck, devices, jobs):
    """Task time, finish and success of check-ins ``tent[:take]`` serving jobs ``tent_job[:take]``."""
    ck_time, ck_device, ck_end, ck_noise = ck[0], ck[1], ck[2], ck[4]
    compute, bandwidth = devices[1], devices[2]
    workload, transfer = jobs[12], jobs[13]
    duration = np.empty(take)
    finish = np.empty(take)
    ok = np.empty(take, np.bool_)
    for i in range(take):
        k = tent[i]
        j = tent_job[i]
        d = ck_device[k]
        duration[i] = task_seconds_compiled(workload[j], transfer[j], compute[d], bandwidth[d]) * ck_noise[k]
        finish[i] = ck_time[k] + duration[i]
        ok[i] = finish[i] <= ck_end[k]
    return duration, finish, ok


@_compiled
def assign_checkins(tent, tent_job, take, ck, devices, jobs, kept, response, deadline_from_dispatch, events, n_ev):
    """:func:`task_outcomes`, then :func:`assign` (a device-level decision). Returns (events written
    in total, whether a request was filled, finish times, successes)."""
    duration, finish, ok = task_outcomes(tent, tent_job, take, ck, devices, jobs)
    n_ev, filled = assign(
        tent,
        tent_job,
        take,
        duration,
        finish,
        ok,
        ck,
        devices,
        jobs,
        kept,
        response,
        deadline_from_dispatch,
        events,
        n_ev,
    )
    return n_ev, filled, finish, ok


@_compiled
def assign(
    tent, tent_job, take, duration, finish, ok, ck, devices, jobs, kept, response, deadline_from_dispatch, events, n_ev
):
    """Give check-ins ``tent[:take]`` to jobs ``tent_job[:take]``, whose tasks take ``duration``,
    finish at ``finish`` and succeed where ``ok``. Returns (events written in total, whether a
    request was filled)."""
    ck_time, ck_device, ck_end = ck[0], ck[1], ck[2]
    busy_until, tier, served = devices[0], devices[3], devices[4]
    once = served.shape[0] > 0
    (
        job_open,
        assigned,
        tasks,
        dropped,
        successes,
        last_assign,
        quorum_dispatch,
        dispatch,
        quorum,
        is_async,
        deadline,
        attempt,
    ) = jobs[:12]
    close_candidate, kept_vals, kept_off, kept_size = kept
    response_time, response_tier, response_next = response
    ev_time, ev_kind, ev_job, ev_tag, ev_good = events

    n_ok = 0
    for i in range(take):
        n_ok += ok[i]
        busy_until[ck_device[tent[i]]] = ck_end[tent[i]]

    # The response-time sample: the batch's successful task times, in check-in order.
    n_kept = min(n_ok, RESPONSE_SAMPLE)
    start = response_next[0] if response_next[0] + n_kept <= RESPONSE_SAMPLE else 0
    skip = n_ok - n_kept
    w = start
    seen = 0
    for i in range(take):
        if ok[i]:
            if seen >= skip:
                response_time[w] = duration[i]
                response_tier[w] = tier[ck_device[tent[i]]]
                w += 1
            seen += 1
    response_next[0] = start + n_kept

    for i in range(take):
        j = tent_job[i]
        if once and not is_async[j]:
            served[j, ck_device[tent[i]]] = attempt[j]
        tasks[j] += 1
        if ok[i]:
            successes[j] += 1
        else:
            dropped[j] += 1
        assigned[j] += 1
        if not is_async[j] and assigned[j] == quorum[j]:
            quorum_dispatch[j] = ck_time[tent[i]]
        job_open[j] -= 1
        last_assign[j] = ck_time[tent[i]]

    # Events, job by job in ascending order (the order they get on the heap).
    filled = False
    order = np.argsort(tent_job[:take], kind="mergesort")
    good = np.empty(take)
    i = 0
    while i < take:
        j = tent_job[order[i]]
        end = i
        while end < take and tent_job[order[end]] == j:
            end += 1
        if job_open[j] == 0:
            filled = True
        if is_async[j]:
            for m in range(i, end):
                x = order[m]
                ev_time[n_ev] = finish[x] if ok[x] else ck_end[tent[x]]
                ev_kind[n_ev] = TASK_END
                ev_job[n_ev] = j
                ev_tag[n_ev] = attempt[j]
                ev_good[n_ev] = ok[x]
                n_ev += 1
        else:
            n_good = 0
            for m in range(i, end):
                if ok[order[m]]:
                    good[n_good] = finish[order[m]]
                    n_good += 1
            if n_good:
                tau = add_results(j, good, n_good, quorum, close_candidate, kept_vals, kept_off, kept_size)
                if not np.isnan(tau):
                    ev_time[n_ev], ev_kind[n_ev], ev_job[n_ev] = tau, CLOSE, j
                    ev_tag[n_ev], ev_good[n_ev] = attempt[j], True
                    n_ev += 1
            if job_open[j] == 0:
                dispatch[j] = last_assign[j]
                if deadline_from_dispatch:
                    ev_time[n_ev] = dispatch[j] + deadline[j]
                    ev_kind[n_ev], ev_job[n_ev], ev_tag[n_ev], ev_good[n_ev] = DEADLINE, j, attempt[j], False
                    n_ev += 1
        i = end
    return n_ev, filled


@_compiled
def match_checkins(
    pos,
    chunk_len,
    t_end,
    stop_choices,
    deadline_from_dispatch,
    record,
    matcher,
    scores,
    eligible,
    shares,
):
    """Match check-ins from ``pos`` on, segment by segment, until the chunk ends, the next
    check-in is at or after ``t_end`` or an event written here, a request fills, a contested
    check-in (one that could go to ``stop_choices`` or more jobs; 0: never stop) comes up, or
    a buffer is full. ``matcher``: the state it works on and writes, in the order unpacked below
    (``Simulation._matcher``). Returns (why, next position, pending check-in or -1, events, records)."""
    target_table, target_count, device_first, job_seen, scratch, ck, devices, jobs, kept, response = matcher[:10]
    events, records = matcher[10], matcher[11]
    ck_time, ck_device, ck_end, ck_class, ck_noise, ck_tie = ck
    busy_until, served = devices[0], devices[4]
    once = served.shape[0] > 0  # device_once_per_round
    job_open, quorum, is_async, close_candidate = jobs[0], jobs[8], jobs[9], kept[0]
    attempt = jobs[11]
    kept_vals, kept_off, kept_size = kept[1], kept[2], kept[3]
    ev_time = events[0]
    rec_idx, rec_job, rec_finish, rec_ok = records
    n_jobs = len(job_open)
    any_open = False
    for j in range(n_jobs):
        if job_open[j] > 0:
            any_open = True
            break
    tent, tent_job, allowed, new_finish = scratch
    n_ev = 0
    n_rec = 0
    next_event = t_end
    while True:
        if pos >= chunk_len:
            return CHUNK_DONE, pos, -1, n_ev, n_rec
        if n_ev + SEGMENT + 2 * n_jobs > len(ev_time) or (record and n_rec + SEGMENT > len(rec_idx)):
            return BUFFER_FULL, pos, -1, n_ev, n_rec
        a = pos
        b = min(chunk_len, a + SEGMENT)
        stop = -1
        if stop_choices > 0 and any_open:
            for k in range(a, b):
                if target_count[ck_class[k]] >= stop_choices and busy_until[ck_device[k]] <= ck_time[k]:
                    c, d = ck_class[k], ck_device[k]
                    if once and _served_a_target(c, d, target_table, target_count, served, attempt):
                        if allowed_targets(c, d, scores, eligible, job_open, served, attempt, allowed) < stop_choices:
                            continue
                    stop = k
                    break
            if stop >= 0 and ck_time[stop] < next_event:
                if stop == a:
                    return CHECKIN_PENDING, pos, a, n_ev, n_rec
                b = stop
            else:
                stop = -1
        if ck_time[b - 1] >= next_event:
            b = np.searchsorted(ck_time[:chunk_len], next_event)
            if b <= a:
                return REACHED_END, pos, -1, n_ev, n_rec
        if not any_open:
            pos = b
            continue

        # Tentative assignments: the target of each free device's check-in.
        n_t = 0
        end = b
        for k in range(a, b):
            count = target_count[ck_class[k]]
            if count == 0:
                continue
            share_row = ck_class[k] if shares.shape[0] > 1 else 0
            if shares.shape[0] == 0:  # uniformly: without slicing the table, once per check-in
                target = target_table[ck_class[k], uniform_index(count, ck_tie[k])]
            else:
                target = pick_target(target_table[ck_class[k]], count, ck_tie[k], shares, share_row)
            d = ck_device[k]
            if target < 0 or busy_until[d] > ck_time[k]:
                continue
            if once and _served_a_target(ck_class[k], d, target_table, target_count, served, attempt):
                n_allowed = allowed_targets(ck_class[k], d, scores, eligible, job_open, served, attempt, allowed)
                if n_allowed == 0:
                    continue
                target = pick_target(allowed, n_allowed, ck_tie[k], shares, share_row)
            first = device_first[d]
            if first >= 0:
                if ck_time[k] < ck_end[tent[first]]:
                    continue  # its first window here is still open: busy
                end = k  # free again: settled in the next segment
                break
            device_first[d] = n_t
            tent[n_t] = k
            tent_job[n_t] = target
            n_t += 1
        for i in range(n_t):
            device_first[ck_device[tent[i]]] = -1
        if n_t == 0:
            pos = end
            if end == stop:
                return CHECKIN_PENDING, pos, stop, n_ev, n_rec
            continue

        # Stop at the check-in that fills a request.
        take = n_t
        counted = n_t
        for i in range(n_t):
            j = tent_job[i]
            job_seen[j] += 1
            if job_seen[j] == job_open[j]:
                counted = i + 1
                if i + 1 < take:
                    take = i + 1
                    end = tent[i] + 1
                break
        for i in range(counted):
            job_seen[tent_job[i]] = 0

        # A quorum that forms inside the segment ends it: later check-ins must not join that round.
        quorum_at = np.inf
        duration, finish, ok = task_outcomes(tent, tent_job, take, ck, devices, jobs)
        for i in range(take):
            if ok[i]:
                job_seen[tent_job[i]] += 1
        for i in range(take):
            j = tent_job[i]
            if job_seen[j] == 0:
                continue
            if not is_async[j] and jobs[4][j] + job_seen[j] >= quorum[j]:
                n_new = 0
                for m in range(i, take):
                    if tent_job[m] == j and ok[m]:
                        new_finish[n_new] = finish[m]
                        n_new += 1
                quorum_at = min(
                    quorum_at,
                    _quorum_time(j, new_finish, n_new, quorum[j], close_candidate, kept_vals, kept_off, kept_size),
                )
            job_seen[j] = 0
        if quorum_at <= ck_time[tent[take - 1]]:
            # Events come before check-ins at the same instant, so a check-in at the quorum's
            # instant goes to the next round. Tasks take time, so the quorum's own tasks stay;
            # tasks of no time at all (zero work, or a noise factor that underflows) may finish
            # at their own check-in: those at the quorum's instant stay too, or nothing would move.
            keep = 0
            while ck_time[tent[keep]] < quorum_at:
                keep += 1
            if keep == 0:
                while keep < take and ck_time[tent[keep]] <= quorum_at:
                    keep += 1
            if keep < take:
                end = tent[keep]
            take = keep
        pos = end
        filled = False
        if take:
            if record:
                rec_idx[n_rec : n_rec + take] = tent[:take]
                rec_job[n_rec : n_rec + take] = tent_job[:take]
            n_before = n_ev
            n_ev, filled = assign(
                tent,
                tent_job,
                take,
                duration,
                finish,
                ok,
                ck,
                devices,
                jobs,
                kept,
                response,
                deadline_from_dispatch,
                events,
                n_ev,
            )
            if record:
                rec_finish[n_rec : n_rec + take] = finish[:take]
                rec_ok[n_rec : n_rec + take] = ok[:take]
                n_rec += take
            for e in range(n_before, n_ev):
                next_event = min(next_event, ev_time[e])
        # The contested check-in's candidates were read before this segment's assignments:
        # hand it over only if none of them filled a request and no event (a quorum) now
        # comes before it; otherwise the next segment looks at it again.
        if end == stop and not filled and next_event > ck_time[stop] and busy_until[ck_device[stop]] <= ck_time[stop]:
            return CHECKIN_PENDING, pos, stop, n_ev, n_rec
        if filled:
            return TARGETS_CHANGED, pos, -1, n_ev, n_rec
