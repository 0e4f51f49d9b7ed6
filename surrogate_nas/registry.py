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

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise KeyError(f"{self.kind} {name!r} is already registered")
            self._factories[name] = factory
            return factory

        return deco

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def factory(self, name: str) -> Callable[..., T]:
        """The factory registered as ``name`` (e.g. to inspect which keyword arguments it takes)."""
        if not isinstance(name, str) or name not in self._factories:
            from .errors import SurrogateNASError

            raise SurrogateNASError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self.names())}")
        return self._factories[name]

    def get(self, name_or_instance, **kwargs) -> T:
        if self.instance_type is not None and isinstance(name_or_instance, self.instance_type):
            return cast(T, name_or_instance)
        return self.factory(name_or_instance)(**kwargs)
