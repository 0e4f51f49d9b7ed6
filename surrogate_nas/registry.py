"""A tiny name -> factory registry so configs can name components by string.

A registry given an entry-point ``group`` also offers the plugins of installed distributions: an entry point
``name = "module:attr"`` in that group is listed by :meth:`Registry.names` and ``in`` as soon as it is installed,
and imported only when ``name`` is looked up (its module may register ``name`` itself on import, like a built-in
component; otherwise the loaded object is the factory). A plugin that fails to import is one error naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar, cast

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories; ``get`` passes an existing instance straight through.

    ``entry_points``: the entry-point group of this family's plugins (e.g. ``"surrogate_nas.evaluators"``).
    """

    def __init__(
        self, kind: str, instance_type: type | tuple[type, ...] | None = None, entry_points: str | None = None
    ):
        self.kind = kind
        self.instance_type = instance_type
        self.group = entry_points
        self._factories: dict[str, Callable[..., T]] = {}
        self._aliases: dict[str, str] = {}  # old name -> registered name
        self._warned: set[str] = set()
        self._plugins: dict[str, EntryPoint] | None = None  # the group's entry points, read on first need

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
        """The registered names and those of installed plugins (not imported by this)."""
        return sorted(set(self._factories) | set(self.plugins()))

    def __contains__(self, name: object) -> bool:
        return name in self._factories or name in self._aliases or (isinstance(name, str) and name in self.plugins())

    def plugins(self) -> dict[str, EntryPoint]:
        """The entry points of the registry's group, by name (the first where two distributions declare one)."""
        if self._plugins is None:
            found: dict[str, EntryPoint] = {}
            if self.group is not None:
                from importlib.metadata import entry_points

                for ep in entry_points(group=self.group):
                    found.setdefault(ep.name, ep)
            self._plugins = found
        return self._plugins

    def _load(self, name: str) -> None:
        """Import the plugin ``name`` (if one is installed); its factory is registered on return."""
        ep = self.plugins().get(name)
        if ep is None:
            return
        from .errors import SurrogateNASError, first_line

        dist = f" of {ep.dist.name} {ep.dist.version}" if ep.dist is not None else ""
        where = f"{self.kind} plugin {name!r} (entry point {ep.name} = {ep.value} in group {self.group}{dist})"
        try:
            obj = ep.load()
        except Exception as e:  # anything a plugin's import raises: one line naming the plugin
            raise SurrogateNASError(f"{where} failed to load: {type(e).__name__}: {first_line(e)}") from None
        if name not in self._factories:  # its module did not register it on import: the object is the factory
            if not callable(obj):
                raise SurrogateNASError(f"{where} is not a factory: {type(obj).__name__} {obj!r:.80}")
            self._factories[name] = obj

    def factory(self, name: str) -> Callable[..., T]:
        """The factory registered as ``name`` (e.g. to inspect which keyword arguments it takes); a plugin's is
        imported on its first lookup."""
        name = self.resolve(name)
        if isinstance(name, str) and name not in self._factories:
            self._load(name)
        if not isinstance(name, str) or name not in self._factories:
            from .errors import SurrogateNASError

            raise SurrogateNASError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self.names())}")
        return self._factories[name]

    def get(self, name_or_instance, **kwargs) -> T:
        if self.instance_type is not None and isinstance(name_or_instance, self.instance_type):
            return cast(T, name_or_instance)
        return self.factory(name_or_instance)(**kwargs)
