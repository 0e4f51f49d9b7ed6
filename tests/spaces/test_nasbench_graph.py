import numpy as np
import pytest
from nas_bench_graph import Arch, light_read

from surrogate_nas.errors import InvalidArchitectureError
from surrogate_nas.spaces import Architecture, get_space

space = get_space("nas-bench-graph")
proteins = get_space("nas-bench-graph-proteins")


def test_enumerate_is_exactly_the_archs_in_the_records():
    archs = space.enumerate()
    assert len(archs) == 26206
    assert {int(space.canonical(a)) for a in archs} == set(light_read("cora"))
    p = proteins.enumerate()
    assert len(p) == 2021
    assert {int(proteins.canonical(a)) for a in p} == set(light_read("proteins"))


def test_canonical_key_is_the_packages_valid_hash_for_raw_patterns():
    raw = Architecture("nas-bench-graph", ("gcn", "gat", "skip", "sage"), (0, 0, 1, 0))
    assert space.canonical(raw) == str(Arch([0, 0, 1, 0], ["gcn", "gat", "skip", "sage"]).valid_hash())
    rep = space.representative(raw)
    assert space.canonical(rep) == space.canonical(raw)
    assert rep in set(space.enumerate())


def test_parse_format_roundtrip():
    a = space.parse("0012:gcn-gat-skip-sage")
    assert a.links == (0, 0, 1, 2) and a.ops == ("gcn", "gat", "skip", "sage")
    assert space.format(a) == "0012:gcn-gat-skip-sage"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("0012:gcn-gat-skip-conv", "unknown op 'conv'"),
        ("0012:gcn-gat-skip", "expected 4 ops"),
        ("012:gcn-gat-skip-sage", "must be 4 digits"),
        ("0032:gcn-gat-skip-sage", "node 3 reads from 3"),
        ("0012 gcn-gat-skip-sage", "must look like"),
        ("0012:skip-skip-skip-skip", "all-skip"),
    ],
)
def test_bad_strings(text, fragment):
    with pytest.raises(InvalidArchitectureError, match=fragment):
        space.parse(text)


def test_proteins_space_refuses_ops_outside_its_list():
    with pytest.raises(InvalidArchitectureError, match="unknown op 'gat'"):
        proteins.parse("0123:gat-gcn-gcn-gcn")
    with pytest.raises(InvalidArchitectureError, match="belongs to space 'nas-bench-graph'"):
        proteins.validate(space.parse("0123:gcn-gcn-gcn-gcn"))


def test_moves_stay_in_space_and_leave_the_parent_class():
    rng = np.random.default_rng(0)
    known = set(space.enumerate())
    a = space.sample(rng)
    for _ in range(200):
        m = space.mutate(a, rng)
        assert m in known and space.canonical(m) != space.canonical(a)
        c = space.crossover(a, m, rng)
        assert c in known
        a = m


def test_skeletons_are_the_link_patterns():
    assert len(space.skeletons()) == 9
    assert sum(len(space.members(s)) for s in space.skeletons()) == 26206
    rng = np.random.default_rng(1)
    for s in space.skeletons():
        assert space.skeleton(space.sample(rng, skeleton=s)) == s
