"""moto's record of every model object it creates, kept weakly.

moto appends each instance of a model class (``BaseModel``) to ``instances_tracked`` on its class, for
the ``/moto-api`` dashboard and for S3's reset, and never removes it: every overwritten S3 object's
key, every SQS message, every SNS notification stays in memory for the life of the server, and
each full garbage collection walks them all (under a steady stream of S3 overwrites: ~45 MB a
minute, and a pause of every request that grows with it).  Here the record holds its objects
weakly: the dashboard and S3's reset still see every object that something else keeps; what moto
has let go of is freed.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator

from moto.core.common_models import BaseModel

from localcloud import motoadapter


class WeakInstances:
    """``instances_tracked`` as moto uses it (``append``, iteration), without keeping anything alive.
    By identity: models hash and compare by fields that are not set yet when the object is made."""

    def __init__(self, instances: Iterable[object] = ()) -> None:
        self._references: dict[int, weakref.ref] = {}
        for instance in instances:
            self.append(instance)

    def append(self, instance: object) -> None:
        key = id(instance)
        self._references[key] = weakref.ref(instance, lambda _, key=key: self._references.pop(key, None))

    def __iter__(self) -> Iterator[object]:
        for reference in list(self._references.values()):
            instance = reference()
            if instance is not None:
                yield instance

    def __len__(self) -> int:
        return len(self._references)


def _new_tracked_weakly(cls, *args, **kwargs):
    instance = super(BaseModel, cls).__new__(cls)
    # moto's metaclass gives each model class its own list, and its reset puts a new one in place.
    tracked = cls.__dict__.get("instances_tracked")
    if not isinstance(tracked, WeakInstances):
        tracked = WeakInstances(tracked or ())
        cls.instances_tracked = tracked
    tracked.append(instance)
    return instance


def install() -> None:
    motoadapter.replace(BaseModel, "__new__", staticmethod(_new_tracked_weakly), ("cls",))
