"""``compiled``: numba's ``njit(cache=True)`` where numba is installed (compiled at first use and
cached on disk), else the plain Python function: the same results, far slower. The one place
that decides, for the matcher and for the policies' hot loops.

``kernel_dispatch(generic)`` makes ``generic(state, ...)`` call the function registered for the
class of ``state`` (``register(generic, state_class, function)``): in compiled code chosen when it
is compiled (a numba overload, so that what calls it is cached), in Python looked up at each call.
numba's cache follows a compiled function's own source file only: after changing a registered
function, delete the ``*.nbi``/``*.nbc`` files under ``__pycache__`` of the callers' folders.
"""

from collections.abc import Callable

try:
    from numba import njit, types
    from numba.extending import overload

    compiled = njit(cache=True)
    HAVE_NUMBA = True
except ImportError:  # numba is a dependency; this keeps the core usable with numpy alone

    def compiled(function):
        return function

    HAVE_NUMBA = False

_REGISTERED: dict[Callable, dict[type, Callable]] = {}


def kernel_dispatch(generic: Callable) -> Callable:
    """``generic`` (its signature and docstring; its body is never run) dispatching on its first
    argument's class to the functions :func:`register` gives it."""
    table: dict[type, Callable] = {}

    def dispatch(state, *args):
        try:
            function = table[type(state)]
        except KeyError:
            raise TypeError(f"{generic.__name__}: nothing registered for {type(state).__name__}") from None
        return function(state, *args)

    dispatch.__name__, dispatch.__qualname__, dispatch.__doc__ = generic.__name__, generic.__qualname__, generic.__doc__
    dispatch.__module__ = generic.__module__
    _REGISTERED[dispatch] = table
    return dispatch


def register(dispatch: Callable, state_class: type, function: Callable) -> None:
    """Make ``dispatch(state, ...)`` call ``function(state, ...)`` for states of ``state_class``
    (a ``typing.NamedTuple`` class)."""
    _REGISTERED[dispatch][state_class] = function
    if HAVE_NUMBA:

        @overload(dispatch)
        def _typed(state, *args):
            if isinstance(state, types.BaseNamedTuple) and state.instance_class is state_class:
                return lambda state, *args: function(state, *args)
            return None
