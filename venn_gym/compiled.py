"""``compiled``: numba's ``njit(cache=True)`` where numba is installed (compiled at first use and
cached on disk), else the plain Python function: the same results, far slower. The one place
that decides, for the matcher and for the policies' hot loops.

``kernel_dispatch(generic)`` makes ``generic(state, ...)`` call the function registered for the
class of ``state`` (``register(generic, state_class, function)``): in compiled code chosen when it
is compiled (a numba overload, so that what calls it is cached), in Python looked up at each call.
``borrowed(value)`` lets compiled code use arrays that its caller keeps alive without counting
references to them (see its docstring).
numba's cache follows a compiled function's own source file only: after changing a registered
function, delete the ``*.nbi``/``*.nbc`` files under ``__pycache__`` of the callers' folders.
"""

from collections.abc import Callable

try:
    from numba import njit, types
    from numba.core import cgutils
    from numba.extending import intrinsic, overload

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


def borrowed(value):
    """``value`` (an array, or a tuple of arrays and tuples of them; anything else passes as it is)
    for compiled code that only borrows it: the same arrays, without reference counting. Compiled
    code counts references to each array it holds in a variable across a call, with an atomic
    operation each time, which is much of a long run's time; an array without its count skips that.
    Only for the arrays of a call whose caller keeps them alive until it returns, and that it never
    returns or keeps."""
    return value


if HAVE_NUMBA:

    @intrinsic
    def _without_refcount(typingctx, array):
        # The array's meminfo holds its reference count: without one, numba's increments and
        # decrements return at once. The parent (the Python object) only serves to return it.
        def codegen(context, builder, signature, args):
            proxy = cgutils.create_struct_proxy(signature.args[0])(context, builder, value=args[0])
            proxy.meminfo = cgutils.get_null_value(proxy.meminfo.type)
            proxy.parent = cgutils.get_null_value(proxy.parent.type)
            return proxy._getvalue()

        return array(array), codegen

    @overload(borrowed)
    def _borrowed(value):
        if isinstance(value, types.Array):
            return lambda value: _without_refcount(value)
        if isinstance(value, types.BaseTuple) and not isinstance(value, types.BaseNamedTuple):
            items = "".join(f"borrowed(value[{i}]), " for i in range(len(value)))
            namespace = {"borrowed": borrowed}
            exec(f"def impl(value):\n    return ({items})", namespace)
            return namespace["impl"]
        return lambda value: value
