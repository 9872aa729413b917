"""``compiled``: numba's ``njit(cache=True)`` where numba is installed (compiled at first use and
cached on disk), else the plain Python function: the same results, far slower. The one place
that decides, for the matcher and for the policies' hot loops."""

try:
    from numba import njit

    compiled = njit(cache=True)
except ImportError:  # numba is a dependency; this keeps the core usable with numpy alone

    def compiled(function):
        return function
