"""One small name → object registry, used by methods, models, datasets and penalties.

Entries come from three places, in this order, all on the first look-up (``names``/``get``/``in``):

1. what the package registers when its modules are imported;
2. every public module of ``package`` (found with :mod:`pkgutil`, imported lazily), so a new method
   file in ``lottery_lab/methods/`` needs no import list edited;
3. outside packages, through the entry-point ``group`` (e.g. ``lottery_lab.methods``) of
   :mod:`importlib.metadata`. An entry point may name a module (importing it registers) or the object
   itself (registered under the entry point's name unless already registered).

A name not found, or any look-up after ``sys.path`` changed, looks among entry points again (for
plug-ins installed after the first look-up) before :class:`ValueError` names the argument, the value and the allowed names
(in :mod:`lottery_lab._validation`'s one message format).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
import sys
import types
from collections.abc import Iterator
from typing import Any, Callable, Generic, TypeVar

from lottery_lab._validation import invalid

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Names → objects of one ``kind`` (``"method"``, ``"model"``, ...), in registration order.

    ``arg`` is the argument name used in error messages (``method=...``), ``group`` the entry-point
    group, ``package`` a package whose modules are imported on first use, ``normalize`` maps a looked-up
    name to its key (e.g. ``str.lower``).
    """

    def __init__(self, kind: str, *, arg: str | None = None, group: str | None = None,
                 package: str | None = None, normalize: Callable[[str], str] | None = None) -> None:
        self.kind = kind
        self.arg = arg or kind
        self.group = group
        self.package = package
        self.normalize = normalize
        self._items: dict[str, T] = {}
        self._loaded = False
        self._loading = False
        self._scanned_path: tuple[str, ...] = ()

    # ------------------------------------------------------------------ registration
    def register(self, name: str, obj: T, *, replace: bool = True) -> T:
        """Make ``obj`` available as ``name``; returns ``obj``."""
        if not isinstance(name, str) or not name:
            raise invalid(f"{self.kind} name", name, "a non-empty str", TypeError)
        if not replace and name in self._items and self._items[name] is not obj:
            raise invalid(f"{self.kind} name", name, "a name not registered yet")
        self._items[name] = obj
        return obj

    def unregister(self, name: str) -> T:
        """Remove ``name`` and return what it named (ValueError if it is not registered)."""
        self._load()
        if name not in self._items:
            raise ValueError(self._unknown(name))
        return self._items.pop(name)

    # ------------------------------------------------------------------ look-up
    def names(self) -> list[str]:
        """The registered names, in registration order."""
        self._load()
        return list(self._items)

    def get(self, name: str) -> T:
        """The object registered as ``name``; ValueError naming the allowed names otherwise."""
        if not isinstance(name, str):
            raise invalid(self.arg, name, f"one of the registered {self._plural} (a str)", TypeError)
        key = self.normalize(name) if self.normalize else name
        self._load()
        if key not in self._items:
            self._load_entry_points()          # a plug-in installed since the first look-up
        if key not in self._items:
            raise ValueError(self._unknown(name))
        return self._items[key]

    def _unknown(self, name: Any) -> str:
        return str(invalid(self.arg, name, f"one of the registered {self._plural}: {', '.join(self._items) or 'none'}"))

    @property
    def _plural(self) -> str:
        return self.kind[:-1] + "ies" if self.kind.endswith("y") else self.kind + "s"

    # mapping protocol (older code reads the registry as a dict)
    def __contains__(self, name: object) -> bool:
        self._load()
        if isinstance(name, str) and self.normalize:
            name = self.normalize(name)
        if name not in self._items:
            self._load_entry_points()          # a plug-in installed since the first look-up
        return name in self._items

    def __getitem__(self, name: str) -> T:
        self._load()
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load()
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._items)!r})"

    # ------------------------------------------------------------------ discovery
    def _load(self) -> None:
        if self._loading:
            return
        if self._loaded:
            if self.group and tuple(sys.path) != self._scanned_path:
                self._load_entry_points()      # sys.path changed: look for newly visible plug-ins
            return
        self._loading = True
        try:
            if self.package:
                pkg = importlib.import_module(self.package)
                for info in pkgutil.iter_modules(getattr(pkg, "__path__", [])):
                    if not info.name.startswith("_"):
                        importlib.import_module(f"{self.package}.{info.name}")
            self._load_entry_points()
            self._loaded = True
        finally:
            self._loading = False

    def _load_entry_points(self) -> None:
        if not self.group:
            return
        self._scanned_path = tuple(sys.path)
        importlib.invalidate_caches()
        for ep in importlib.metadata.entry_points(group=self.group):
            if ep.name in self._items:
                continue
            obj = ep.load()
            if not isinstance(obj, types.ModuleType) and ep.name not in self._items \
                    and obj not in self._items.values():
                self.register(ep.name, obj)
