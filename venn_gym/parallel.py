"""The one parallel runner: a function over tasks, in worker processes when ``workers > 1``.

Results come back in task order. Workers may report progress (:func:`report`), which reaches the
caller's ``on_progress``; a worker whose parent has died stops instead of running on. Ctrl-C
stops the workers at once (a full-scale run takes minutes) and raises :class:`Interrupted` with
the results that had come back.
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Callable, Optional, Sequence

# In a worker: where progress reports go, and the parent to watch.
_progress_queue = None
_parent_pid: Optional[int] = None


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_parallel`: ``finished`` holds the results that had come back, in task order."""

    def __init__(self, finished: list, total: int):
        super().__init__(f"interrupted after {len(finished)} of {total} runs")
        self.finished = finished
        self.total = total


def in_worker() -> bool:
    return _parent_pid is not None


def report(*progress: Any) -> None:
    """From a task running in a worker: pass ``progress`` to the caller's ``on_progress``, and stop
    this process if the one that asked for the task is gone (nobody would read its result)."""
    if _parent_pid is not None and os.getppid() != _parent_pid:
        os._exit(1)
    if _progress_queue is not None:
        _progress_queue.put(progress)


def _start_worker(queue, parent_pid: int) -> None:
    global _progress_queue, _parent_pid
    _progress_queue, _parent_pid = queue, parent_pid
    if queue is not None:
        # Reports are advisory: a worker must not wait at exit for the parent to read its last
        # ones (a full pipe would block its exit, and the pool's shutdown with it).
        queue.cancel_join_thread()


def run_parallel(
    function: Callable[..., Any],
    tasks: Sequence[Any],
    workers: int = 1,
    on_done: Optional[Callable[[Any], None]] = None,
    on_progress: Optional[Callable[..., None]] = None,
) -> list:
    """``[function(task) for task in tasks]``, in ``workers`` processes when more than one
    (``function`` and the tasks must then be picklable: a top-level function)."""
    results: dict[int, Any] = {}
    try:
        if workers <= 1:
            for i, task in enumerate(tasks):
                results[i] = function(task)
                if on_done:
                    on_done(results[i])
        else:
            _in_workers(function, tasks, workers, results, on_done, on_progress)
    except KeyboardInterrupt:
        raise Interrupted([results[i] for i in sorted(results)], len(tasks)) from None
    return [results[i] for i in range(len(tasks))]


def _in_workers(function, tasks, workers, results, on_done, on_progress) -> None:
    import multiprocessing
    import queue as queue_module

    progress = multiprocessing.get_context().Queue() if on_progress else None
    pool = ProcessPoolExecutor(
        max_workers=min(workers, max(len(tasks), 1)), initializer=_start_worker, initargs=(progress, os.getpid())
    )
    try:
        futures = {pool.submit(function, task): i for i, task in enumerate(tasks)}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            while progress is not None:
                try:
                    on_progress(*progress.get_nowait())
                except queue_module.Empty:
                    break
            for future in finished:
                results[futures[future]] = future.result()
                if on_done:
                    on_done(results[futures[future]])
    except BaseException:
        # Stop the runs under way now rather than at their end.
        for process in list((pool._processes or {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
