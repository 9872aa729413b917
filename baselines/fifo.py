"""FIFO: the earliest-arrived eligible job with open demand first."""

from venn_gym.policy import Policy, rank_scores


class FifoPolicy(Policy):
    name = "fifo"
    _ranked_arrivals: bytes | None = None  # the arrival times that _scores rank

    def scores(self, view, events):
        # Arrival times are fixed for a run: rank them once, not at every event.
        arrivals = view.arrival_s.tobytes()
        if arrivals != self._ranked_arrivals:
            self._scores = rank_scores(view.arrival_s, view.arrival_s)
            self._ranked_arrivals = arrivals
        return self._scores.copy()
