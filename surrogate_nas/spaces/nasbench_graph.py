"""NAS-Bench-Graph space: a link pattern over 4 computing nodes x one GNN op per node.

Ops, link patterns and the isomorphism key are exactly those of the ``nas_bench_graph`` package
(``Arch(link, ops).valid_hash()``). The proteins records use a 5-op subset (its own space).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Hashable, Iterable, Iterator
from functools import cached_property
from typing import cast

import numpy as np
from nas_bench_graph import architecture as nbg

from ..errors import InvalidArchitectureError
from .base import Architecture, SearchSpace

N_NODES = 4
_BASE = len(nbg.gnn_list) + 1  # the package's hash radix (its op list plus one)
_LINKS = re.compile(f"[0-9]{{{N_NODES}}}")


class NASBenchGraphSpace(SearchSpace):
    """Native string ``LLLL:op-op-op-op``, e.g. ``0012:gcn-gat-skip-sage``.

    ``LLLL`` gives, for computing node i (1-4), the node it reads (0 = the input, k = node k <= i-1).
    """

    name = "nas-bench-graph"
    ops = tuple(nbg.gnn_list)
    code_packages = ("nas-bench-graph",)  # its valid_hash is the canonical key and the records' key
    vocabulary = ("input", "output") + tuple(nbg.gnn_list)

    # ------------------------------------------------------------------ parse / format
    def _parse(self, text: str) -> Architecture:
        link_part, sep, op_part = text.partition(":")
        if not sep:
            raise InvalidArchitectureError(f"{self.name}: {text!r} must look like 0012:gcn-gat-skip-sage")
        if not _LINKS.fullmatch(link_part):
            raise InvalidArchitectureError(
                f"{self.name}: link pattern {link_part!r} in {text!r} must be {N_NODES} digits 0-9"
            )
        ops = tuple(op_part.split("-"))
        return Architecture(self.name, ops, tuple(int(c) for c in link_part))

    def _format(self, arch: Architecture) -> str:
        return "".join(str(x) for x in arch.links) + ":" + "-".join(arch.ops)

    def _check(self, arch: Architecture) -> None:
        if len(arch.links) != N_NODES:
            raise InvalidArchitectureError(
                f"{self.name}: expected {N_NODES} links, got {len(arch.links)}: {arch.links!r}"
            )
        if len(arch.ops) != N_NODES:
            raise InvalidArchitectureError(f"{self.name}: expected {N_NODES} ops, got {len(arch.ops)}: {arch.ops!r}")
        for i, src in enumerate(arch.links):
            if not isinstance(src, (int, np.integer)) or not 0 <= src <= i:
                raise InvalidArchitectureError(
                    f"{self.name}: node {i + 1} reads from {src!r}; it may read the input (0) or nodes 1..{i}"
                )
        for op in arch.ops:
            if op not in self.ops:
                raise InvalidArchitectureError(f"{self.name}: unknown op {op!r}; ops are {', '.join(self.ops)}")
        if all(op == "skip" for op in arch.ops):
            raise InvalidArchitectureError(f"{self.name}: an all-skip cell {arch.ops!r} is not in the space")

    # ------------------------------------------------------------------ identity
    def _canonical(self, arch: Architecture) -> str:
        return str(self._hash(arch))

    @staticmethod
    def _hash(arch: Architecture) -> int:
        return nbg.Arch(list(arch.links), list(arch.ops)).valid_hash()

    def from_key(self, key: str | int) -> Architecture:
        """The canonical representative of a record key (the package's ``valid_hash``)."""
        try:
            if isinstance(key, bool) or (isinstance(key, str) and not re.fullmatch(r"[0-9]+", key)):
                raise ValueError(key)
            h = int(key)
        except (TypeError, ValueError):
            raise InvalidArchitectureError(f"{self.name}: key {key!r} is not an integer hash") from None
        arch = self._by_key.get(h)
        if arch is None:
            raise InvalidArchitectureError(f"{self.name}: key {key!r} is not an architecture of this space")
        return arch

    def representative(self, arch: Architecture) -> Architecture:
        """The canonical member of ``arch``'s isomorphism class (the one records are stored under)."""
        return self._by_key[self._hash(self.validate(arch))]

    @cached_property
    def _by_key(self) -> dict[int, Architecture]:
        out = {}
        for link in nbg.link_list:
            for ops in itertools.product(self.ops, repeat=N_NODES):
                if all(op == "skip" for op in ops):
                    continue
                arch = Architecture(self.name, tuple(ops), tuple(link))
                h = self._hash(arch)
                # the representative is the member whose own hash encoding equals the key
                if h == self._own_code(arch):
                    out[h] = arch
        return out

    @staticmethod
    def _own_code(arch: Architecture) -> int:
        code = nbg.link_list.index(list(arch.links))
        for op in arch.ops:
            code = code * _BASE + nbg.gnn_list.index(op)
        return code

    def enumerate(self) -> list[Architecture]:
        """One representative per isomorphism class, sorted by key (= the archs in the records)."""
        return [self._by_key[k] for k in sorted(self._by_key)]

    # ------------------------------------------------------------------ sampling and moves
    @cached_property
    def _all(self) -> list[Architecture]:
        return self.enumerate()

    @cached_property
    def _by_skeleton(self) -> dict[tuple[int, ...], list[Architecture]]:
        groups: dict[tuple[int, ...], list[Architecture]] = {}
        for a in self._all:
            groups.setdefault(a.links, []).append(a)
        return groups

    def _sample(self, rng: np.random.Generator, skeleton: Hashable | None) -> Architecture:
        pool = self._all if skeleton is None else self._by_skeleton[tuple(cast("Iterable[int]", skeleton))]
        return pool[int(rng.integers(len(pool)))]

    def neighbors(self, arch: Architecture) -> list[Architecture]:
        """Canonical representatives one op or one link change away, other classes only, de-duplicated."""
        own = self._hash(self.validate(arch))
        seen, out = {own}, []
        for cand in self._neighbors(arch):
            h = self._hash(cand)
            if h not in seen:
                seen.add(h)
                out.append(self._by_key[h])
        return out

    def _neighbors(self, arch: Architecture) -> Iterator[Architecture]:
        for i in range(N_NODES):
            for op in self.ops:
                ops = arch.ops[:i] + (op,) + arch.ops[i + 1 :]
                if op != arch.ops[i] and not all(o == "skip" for o in ops):
                    yield Architecture(self.name, ops, arch.links)
        for i in range(1, N_NODES):
            for src in range(i + 1):
                if src != arch.links[i]:
                    yield Architecture(self.name, arch.ops, arch.links[:i] + (src,) + arch.links[i + 1 :])

    def _crossover(self, a: Architecture, b: Architecture, rng: np.random.Generator) -> Architecture:
        """Link pattern from one parent, each op slot from either; falls back to a parent if all-skip."""
        links = a.links if rng.random() < 0.5 else b.links
        take_a = rng.random(N_NODES) < 0.5
        ops = tuple(x if t else y for x, y, t in zip(a.ops, b.ops, take_a))
        if all(op == "skip" for op in ops):
            ops = a.ops
        return self.representative(Architecture(self.name, ops, links))

    # ------------------------------------------------------------------ hierarchy
    def _skeleton(self, arch: Architecture) -> tuple[int, ...]:
        return self.representative(arch).links

    def skeletons(self) -> list[tuple[int, ...]]:
        return [tuple(link) for link in nbg.link_list]

    def members(self, skeleton: tuple[int, ...]) -> list[Architecture]:
        self._check_skeleton(tuple(skeleton))
        return list(self._by_skeleton.get(tuple(skeleton), []))

    # ------------------------------------------------------------------ graphs
    def graph_spec(self, arch: Architecture):
        """Node 0 = input, nodes 1-4 = the op nodes, node 5 = output fed by every node nobody reads."""
        v = self.vocabulary
        types = [v.index("input")] + [v.index(op) for op in arch.ops] + [v.index("output")]
        edges = [(src, i + 1) for i, src in enumerate(arch.links)]
        read = set(arch.links)
        edges += [(i, N_NODES + 1) for i in range(1, N_NODES + 1) if i not in read]
        return types, edges


class NASBenchGraphProteinsSpace(NASBenchGraphSpace):
    """The proteins records' space: the same links, ops restricted to the package's 5-op list."""

    name = "nas-bench-graph-proteins"
    ops = tuple(nbg.gnn_list_proteins)
