"""A tiny name -> factory registry so configs can name components by string."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar, cast

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories; ``get`` passes an existing instance straight through."""

    def __init__(self, kind: str, instance_type: type | tuple[type, ...] | None = None):
        self.kind = kind
        self.instance_type = instance_type
        self._factories: dict[str, Callable[..., T]] = {}
        self._aliases: dict[str, str] = {}  # old name -> registered name
        self._warned: set[str] = set()

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise KeyError(f"{self.kind} {name!r} is already registered")
            self._factories[name] = factory
            return factory

        return deco

    def alias(self, old: str, new: str) -> None:
        """Accept ``old`` as a former name of ``new``; its first use in a process says so once."""
        if new not in self._factories or old in self._factories:
            raise KeyError(f"{self.kind} alias {old!r} -> {new!r}: {new!r} must be registered, {old!r} must not")
        self._aliases[old] = new

    def resolve(self, name):
        """The registered name ``name`` stands for (a former name gives its new one, saying so once per process);
        anything else unchanged."""
        if not isinstance(name, str) or name not in self._aliases:
            return name
        new = self._aliases[name]
        if name not in self._warned:
            import warnings

            self._warned.add(name)
            warnings.warn(f"{self.kind} {name!r} is now {new!r}", FutureWarning, stacklevel=3)
        return new

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories or name in self._aliases

    def factory(self, name: str) -> Callable[..., T]:
        """The factory registered as ``name`` (e.g. to inspect which keyword arguments it takes)."""
        name = self.resolve(name)
        if not isinstance(name, str) or name not in self._factories:
            from .errors import SurrogateNASError

            raise SurrogateNASError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self.names())}")
        return self._factories[name]

    def get(self, name_or_instance, **kwargs) -> T:
        if self.instance_type is not None and isinstance(name_or_instance, self.instance_type):
            return cast(T, name_or_instance)
        return self.factory(name_or_instance)(**kwargs)
