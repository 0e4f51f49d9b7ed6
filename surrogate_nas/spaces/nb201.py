"""NAS-Bench-201 (NATS-Bench topology) cell space: 5 ops on the 6 edges of a 4-node DAG."""

from __future__ import annotations

import itertools
import re
from collections.abc import Hashable, Iterable, Iterator
from typing import cast

import numpy as np

from ..errors import InvalidArchitectureError
from .base import Architecture, SearchSpace

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: (source node, target node) of each op slot, in native-string order.
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
#: Coarse edge classes for the skeleton level of hierarchical search.
EDGE_CLASS = {
    "none": "zero",
    "skip_connect": "identity",
    "nor_conv_1x1": "op",
    "nor_conv_3x3": "op",
    "avg_pool_3x3": "op",
}
SKELETON_CLASSES = ("zero", "identity", "op")
_TOKEN = re.compile(r"([A-Za-z0-9_]+)~([0-9])")


class NB201Space(SearchSpace):
    """NAS-Bench-201: native string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``; 5**6 = 15,625 cells."""

    name = "nb201"
    ops = OPS
    vocabulary = ("input", "output", "node") + OPS
    n_nodes = 4

    # ------------------------------------------------------------------ parse / format
    def _parse(self, text: str) -> Architecture:
        groups = text.split("+")
        if len(groups) != self.n_nodes - 1:
            raise InvalidArchitectureError(
                f"nb201: {text!r} has {len(groups)} node groups separated by '+', expected {self.n_nodes - 1}"
            )
        ops: list[str] = []
        for node, group in enumerate(groups, start=1):
            if len(group) < 2 or not group.startswith("|") or not group.endswith("|"):
                raise InvalidArchitectureError(f"nb201: node group {group!r} in {text!r} must look like |op~0|...|")
            tokens = group[1:-1].split("|")
            if len(tokens) != node:
                raise InvalidArchitectureError(
                    f"nb201: node {node} in {text!r} has {len(tokens)} input edges, expected {node}"
                )
            for expected_src, token in enumerate(tokens):
                m = _TOKEN.fullmatch(token)
                if not m:
                    raise InvalidArchitectureError(
                        f"nb201: malformed edge {token!r} in {text!r} (expected op~index, one digit)"
                    )
                op, src = m.group(1), int(m.group(2))
                if op not in OPS:
                    raise InvalidArchitectureError(f"nb201: unknown op {op!r} in {text!r}; ops are {', '.join(OPS)}")
                if src != expected_src:
                    raise InvalidArchitectureError(
                        f"nb201: edge {token!r} of node {node} in {text!r} should come from node {expected_src}"
                    )
                ops.append(op)
        return Architecture(self.name, tuple(ops))

    def _format(self, arch: Architecture) -> str:
        o = arch.ops
        return f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"

    def _check(self, arch: Architecture) -> None:
        if arch.links:
            raise InvalidArchitectureError(f"nb201: architecture has links {arch.links!r}; NB-201 cells have none")
        if len(arch.ops) != len(EDGES):
            raise InvalidArchitectureError(f"nb201: expected {len(EDGES)} edge ops, got {len(arch.ops)}: {arch.ops!r}")
        for op in arch.ops:
            if op not in OPS:
                raise InvalidArchitectureError(f"nb201: unknown op {op!r}; ops are {', '.join(OPS)}")

    # ------------------------------------------------------------------ canonical key
    def _canonical(self, arch: Architecture) -> str:
        """NAS-Bench-201's own isomorphism key (the rule behind its 6,466 unique cells).

        Each node is written as the sorted '+'-join of its inputs: ``none`` (or a single zero input)
        is "#", ``skip_connect`` copies the input's string, any other op wraps it as ``(in)@op``.
        This is the partition the benchmark's ``UniqueString`` uses; :meth:`function_key` is the
        stricter functional equivalence (zero sub-graphs and sum order fully normalised).
        """
        nodes = ["0"]
        for target in range(1, self.n_nodes):
            parts = []
            for slot, (src, dst) in enumerate(EDGES):
                if dst != target:
                    continue
                op, inp = arch.ops[slot], nodes[src]
                if op == "none" or inp == "#":
                    parts.append("#")
                elif op == "skip_connect":
                    parts.append(inp)
                else:
                    parts.append(f"({inp})@{op}")
            nodes.append("+".join(sorted(parts)))
        return nodes[-1]

    def function_key(self, arch: Architecture) -> str:
        """Functional-equivalence key: zero edges and ops on zero tensors dropped, sums as multisets.

        Coarser than :meth:`canonical` (4,930 classes on NB-201 vs 6,466): two cells share it
        exactly when they compute the same expression of the input, whatever the edge order.
        """
        self.validate(arch)
        values: list[tuple[str, ...] | None] = [("x",)]  # per node: sorted sum terms, None = zero
        for target in range(1, self.n_nodes):
            terms: list[str] = []
            for slot, (src, dst) in enumerate(EDGES):
                if dst != target:
                    continue
                op, inp = arch.ops[slot], values[src]
                if op == "none" or inp is None:
                    continue
                if op == "skip_connect":
                    terms.extend(inp)
                else:
                    terms.append(f"{op}({'+'.join(inp)})")
            values.append(tuple(sorted(terms)) if terms else None)
        return "+".join(values[-1]) if values[-1] is not None else "#"

    # ------------------------------------------------------------------ sampling and moves
    def enumerate(self) -> list[Architecture]:
        return [Architecture(self.name, ops) for ops in itertools.product(OPS, repeat=len(EDGES))]

    def _sample(self, rng: np.random.Generator, skeleton: Hashable | None) -> Architecture:
        if skeleton is None:
            return Architecture(self.name, tuple(OPS[i] for i in rng.integers(len(OPS), size=len(EDGES))))
        ops = []
        for cls in cast("Iterable[str]", skeleton):  # a tuple of edge classes (checked by sample())
            choices = [o for o in OPS if EDGE_CLASS[o] == cls]
            ops.append(choices[int(rng.integers(len(choices)))])
        return Architecture(self.name, tuple(ops))

    def _neighbors(self, arch: Architecture) -> Iterator[Architecture]:
        for slot in range(len(EDGES)):
            for op in OPS:
                if op != arch.ops[slot]:
                    yield Architecture(self.name, arch.ops[:slot] + (op,) + arch.ops[slot + 1 :])

    def _crossover(self, a: Architecture, b: Architecture, rng: np.random.Generator) -> Architecture:
        take_a = rng.random(len(EDGES)) < 0.5
        return Architecture(self.name, tuple(x if t else y for x, y, t in zip(a.ops, b.ops, take_a)))

    # ------------------------------------------------------------------ hierarchy
    def _skeleton(self, arch: Architecture) -> tuple[str, ...]:
        return tuple(EDGE_CLASS[o] for o in arch.ops)

    def skeletons(self) -> list[tuple[str, ...]]:
        return list(itertools.product(SKELETON_CLASSES, repeat=len(EDGES)))

    def members(self, skeleton: tuple[str, ...]) -> list[Architecture]:
        """All architectures whose coarse skeleton is ``skeleton``."""
        self._check_skeleton(skeleton)
        choices = [[o for o in OPS if EDGE_CLASS[o] == cls] for cls in skeleton]
        return [Architecture(self.name, ops) for ops in itertools.product(*choices)]

    # ------------------------------------------------------------------ graphs
    def graph_spec(self, arch: Architecture):
        """Cell nodes 0-3 (input, 2 intermediate, output) plus one node per edge op.

        Op node ``4 + slot`` receives from its source cell node and, unless the op is ``none``,
        feeds its target cell node: a zero edge is present as a node but carries nothing.
        """
        v = self.vocabulary
        types = [v.index("input"), v.index("node"), v.index("node"), v.index("output")]
        edges = []
        for slot, ((src, dst), op) in enumerate(zip(EDGES, arch.ops)):
            node = self.n_nodes + slot
            types.append(v.index(op))
            edges.append((src, node))
            if op != "none":
                edges.append((node, dst))
        return types, edges
