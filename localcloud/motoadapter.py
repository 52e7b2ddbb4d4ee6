"""The one door between localcloud and moto's internals.

localcloud replaces a few of moto's functions and reads some of its private attributes.  Each such
touchpoint goes through :func:`replace` or :func:`require`, which check when localcloud starts that
the attribute still exists and, for functions, still takes the parameters localcloud passes.  A moto
release that renames or reshapes one then stops localcloud at start-up with :class:`MotoIncompatible`
naming it, instead of silently falling back to moto's own (fake) behaviour.

Every service keeps its touchpoints in ``localcloud/<service>/moto_patches.py``; :data:`TOUCHPOINTS`
lists what was checked, for the health check and the moto-upgrade test.
"""

from __future__ import annotations

import inspect
from typing import Any

import moto

TOUCHPOINTS: list[str] = []


class MotoIncompatible(RuntimeError):
    """The installed moto lacks something localcloud relies on."""


def _label(owner: Any, attribute: str) -> str:
    return f"{getattr(owner, '__module__', '')}.{getattr(owner, '__qualname__', getattr(owner, '__name__', owner))}.{attribute}"


def require(owner: Any, attribute: str, parameters: tuple[str, ...] = ()) -> Any:
    """``owner.attribute``, after checking it exists and that, if it is a function, its leading
    parameters are named ``parameters`` (``self`` included for methods read from a class)."""
    label = _label(owner, attribute)
    try:
        value = inspect.getattr_static(owner, attribute)
    except AttributeError:
        raise MotoIncompatible(f"moto {moto.__version__} has no {label}; localcloud needs it. "
                               "Install the moto version requirements.txt pins.") from None
    if parameters:
        function = value.__func__ if isinstance(value, (classmethod, staticmethod)) else value
        try:
            names = tuple(inspect.signature(function).parameters)
        except (TypeError, ValueError):
            names = ()
        if names[: len(parameters)] != parameters:
            raise MotoIncompatible(f"moto {moto.__version__} changed {label}{names}; localcloud expects it to take "
                                   f"{parameters}. Install the moto version requirements.txt pins.")
    if label not in TOUCHPOINTS:
        TOUCHPOINTS.append(label)
    return getattr(owner, attribute)


def _assigned_in_methods(owner: type, attribute: str) -> bool:
    """Whether some method of ``owner``'s class hierarchy names ``attribute`` (``self.attribute = ...``)."""
    for cls in owner.__mro__:
        for value in vars(cls).values():
            function = getattr(value, "__func__", value)
            code = getattr(function, "__code__", None)
            if code is not None and attribute in code.co_names:
                return True
    return False


def require_instance_attribute(owner: type, attribute: str) -> None:
    """Check that instances of ``owner`` get ``attribute`` (a class attribute, or one its methods assign),
    for the attributes localcloud reads on moto's objects."""
    label = _label(owner, attribute)
    if not _assigned_in_methods(owner, attribute):
        try:
            inspect.getattr_static(owner, attribute)
        except AttributeError:
            raise MotoIncompatible(f"moto {moto.__version__}'s {label} is gone; localcloud reads it. "
                                   "Install the moto version requirements.txt pins.") from None
    if label not in TOUCHPOINTS:
        TOUCHPOINTS.append(label)


def add(owner: Any, attribute: str, value: Any) -> None:
    """Give ``owner`` an attribute moto lacks; if a moto release adds its own, stop rather than hide it."""
    label = _label(owner, attribute)
    try:
        inspect.getattr_static(owner, attribute)
    except AttributeError:
        setattr(owner, attribute, value)
        if label not in TOUCHPOINTS:
            TOUCHPOINTS.append(label)
        return
    if getattr(owner, attribute) is not value:
        raise MotoIncompatible(f"moto {moto.__version__} now has {label}, which localcloud adds itself; check whether "
                               "localcloud's addition is still needed.")


def replace(owner: Any, attribute: str, replacement: Any, parameters: tuple[str, ...] = ()) -> Any:
    """Put ``replacement`` in place of ``owner.attribute`` and return what was there (checked as
    :func:`require` does)."""
    original = require(owner, attribute, parameters)
    setattr(owner, attribute, replacement)
    return original
