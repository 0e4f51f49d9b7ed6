"""The architecture value and the search-space interface every space implements."""

from __future__ import annotations

import abc
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidArchitectureError

#: Whitespace :meth:`SearchSpace.parse` strips around a string (lines of a file).
_ASCII_SPACE = " \t\r\n"


@dataclass(frozen=True, slots=True)
class Architecture:
    """An immutable, hashable architecture value.

    ``ops`` are the operation names in the space's fixed slot order; ``links`` is the
    wiring for spaces whose topology varies (empty when the topology is fixed).
    Equality is exact (slot by slot); use ``space.canonical(arch)`` for isomorphism-aware identity.
    """

    space: str
    ops: tuple[str, ...]
    links: tuple[int, ...] = ()

    def __str__(self) -> str:  # the native string of its space
        from . import get_space

        return get_space(self.space).format(self)


class SearchSpace(abc.ABC):
    """A cell search space: parsing, sampling, local moves, enumeration, canonical keys, hierarchy.

    Public methods validate their input and raise :class:`InvalidArchitectureError` naming the
    bad value; subclasses implement the underscored hooks.
    """

    name: str
    #: Operation choices of this space.
    ops: tuple[str, ...]
    #: Node-type vocabulary of its graphs (fixed, saved with every model): special nodes + ops.
    vocabulary: tuple[str, ...]
    #: Hierarchy levels, coarsest first (used by hierarchical search).
    levels: tuple[str, ...] = ("skeleton", "ops")
    #: Distributions whose code decides this space's keys (their versions name the parsed memos of
    #: :mod:`surrogate_nas.benchmarks.parsed`).
    code_packages: tuple[str, ...] = ()

    # ------------------------------------------------------------------ parse / format
    def parse(self, text: str) -> Architecture:
        """Parse the space's native string; raises :class:`InvalidArchitectureError` on any bad input.

        The contract: ASCII only; surrounding ASCII whitespace (space, tab, CR, LF) is ignored, any
        other character outside the printable ASCII range (an embedded newline, a non-ASCII digit)
        is refused. No other exception type escapes.
        """
        if not isinstance(text, str):
            raise InvalidArchitectureError(f"{self.name}: expected a string, got {type(text).__name__} {text!r}")
        body = text.strip(_ASCII_SPACE)
        bad = next((c for c in body if not (" " <= c <= "~")), None)
        if bad is not None:
            raise InvalidArchitectureError(
                f"{self.name}: character {bad!r} in {text!r} is not allowed (architecture strings are printable ASCII)"
            )
        arch = self._parse(body)
        self._check(arch)
        return arch

    def format(self, arch: Architecture) -> str:
        return self._memo("format", arch, self._format)

    def validate(self, arch: Architecture) -> Architecture:
        """Return ``arch`` if it belongs to this space, else raise naming the bad part."""
        if not isinstance(arch, Architecture):
            raise InvalidArchitectureError(f"{self.name}: expected an Architecture, got {type(arch).__name__} {arch!r}")
        if arch.space != self.name:
            raise InvalidArchitectureError(f"architecture {arch!r} belongs to space {arch.space!r}, not {self.name!r}")
        if arch not in self.__dict__.get("_memo_canonical", ()):  # memoised ones were validated
            self._check(arch)
        return arch

    def coerce(self, arch: Architecture | str) -> Architecture:
        """Accept an Architecture or its native string."""
        return self.parse(arch) if isinstance(arch, str) else self.validate(arch)

    # ------------------------------------------------------------------ identity
    def canonical(self, arch: Architecture) -> str:
        """Isomorphism-aware key: cells computing the same function share it."""
        return self._memo("canonical", arch, self._canonical)

    #: Entries kept per memo table (a whole NAS-Bench-Graph space is ~27k architectures).
    MEMO_SIZE = 1 << 18

    def _memo(self, kind: str, arch: Architecture, fn) -> str:
        # search scores whole spaces at every step: validating and hashing each architecture again
        # dominated its time. Only validated architectures enter the table.
        memo = self.__dict__.setdefault("_memo_" + kind, {})
        try:
            return memo[arch]
        except (KeyError, TypeError):
            pass
        out = fn(self.validate(arch))
        if len(memo) >= self.MEMO_SIZE:
            memo.clear()
        memo[arch] = out
        return out

    # ------------------------------------------------------------------ sampling and moves
    def sample(self, rng: np.random.Generator, skeleton: Hashable | None = None) -> Architecture:
        """A uniformly random architecture (optionally inside one coarse ``skeleton``)."""
        _check_rng(rng)
        if skeleton is not None:
            self._check_skeleton(skeleton)
        return self._sample(rng, skeleton)

    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        """One edge/op change; never returns the parent, never an invalid architecture."""
        _check_rng(rng)
        nbrs = self.neighbors(arch)
        return nbrs[int(rng.integers(len(nbrs)))]

    def neighbors(self, arch: Architecture) -> list[Architecture]:
        """All architectures one edge/op change away (deterministic order, parent excluded)."""
        self.validate(arch)
        return [n for n in self._neighbors(arch) if n != arch]

    def crossover(self, a: Architecture, b: Architecture, rng: np.random.Generator) -> Architecture:
        """Uniform crossover of two parents' slots (always valid)."""
        self.validate(a)
        self.validate(b)
        _check_rng(rng)
        return self._crossover(a, b, rng)

    @abc.abstractmethod
    def enumerate(self) -> list[Architecture]:
        """Every architecture of the space in a fixed order."""

    # ------------------------------------------------------------------ hierarchy
    def skeleton(self, arch: Architecture) -> Hashable:
        """The coarse decision (first hierarchy level) an architecture belongs to."""
        return self._skeleton(self.validate(arch))

    @abc.abstractmethod
    def skeletons(self) -> Sequence[Hashable]:
        """All coarse decisions of the space."""

    def _check_skeleton(self, skeleton: Hashable) -> None:
        if skeleton not in set(self.skeletons()):
            raise InvalidArchitectureError(f"{self.name}: unknown skeleton {skeleton!r}")

    # ------------------------------------------------------------------ graphs
    @abc.abstractmethod
    def graph_spec(self, arch: Architecture) -> tuple[Sequence[int], Sequence[tuple[int, int]]]:
        """(node type ids over ``vocabulary``, directed edges) of the architecture's graph.

        :func:`surrogate_nas.graphs.to_graph` turns it into a PyG graph (graphs sit above spaces).
        """

    # ------------------------------------------------------------------ hooks
    @abc.abstractmethod
    def _parse(self, text: str) -> Architecture: ...

    @abc.abstractmethod
    def _format(self, arch: Architecture) -> str: ...

    @abc.abstractmethod
    def _check(self, arch: Architecture) -> None: ...

    @abc.abstractmethod
    def _canonical(self, arch: Architecture) -> str: ...

    @abc.abstractmethod
    def _sample(self, rng: np.random.Generator, skeleton: Hashable | None) -> Architecture: ...

    @abc.abstractmethod
    def _neighbors(self, arch: Architecture) -> Iterator[Architecture]: ...

    @abc.abstractmethod
    def _crossover(self, a: Architecture, b: Architecture, rng: np.random.Generator) -> Architecture: ...

    @abc.abstractmethod
    def _skeleton(self, arch: Architecture) -> Hashable: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _check_rng(rng) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"expected a numpy.random.Generator, got {type(rng).__name__}; use np.random.default_rng(seed)")
