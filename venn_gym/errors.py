"""Errors raised for bad input: each names the source, the field and what was expected."""


class VennGymError(Exception):
    """Base class of venn_gym's own errors."""


class SpecError(VennGymError, ValueError):
    """A scenario, workload, trace or requirement that is malformed or impossible.

    ``source`` is the file (or object) it came from, ``where`` the field or row.
    """

    def __init__(self, message: str, *, source: str | None = None, where: str | None = None):
        self.source = source
        self.where = where
        prefix = ": ".join(p for p in (source, where) if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class IllegalActionError(VennGymError, ValueError):
    """A policy or agent asked for something the simulator does not allow."""
