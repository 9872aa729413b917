"""Errors raised for bad input: each names the source, the field and what was expected."""

import reprlib

_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxdict, _SHORT.maxlist, _SHORT.maxstring, _SHORT.maxother = 3, 4, 4, 40, 40


def short_repr(value, limit: int = 60) -> str:
    """A value as an error message shows it: bounded in depth, breadth and length, so that a YAML
    bomb (aliases nested into billions of elements) is never expanded to print it."""
    text = _SHORT.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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


class ScenarioWarning(UserWarning):
    """A scenario that runs, but probably not as its author meant (``scenarios validate`` lists them)."""
