import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surrogate_nas.errors import InvalidArchitectureError
from surrogate_nas.spaces import Architecture, get_space
from surrogate_nas.spaces.nb201 import EDGES, OPS

from ..conftest import NB201_CSV

space = get_space("nb201")
BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def test_parse_format_roundtrip_and_value_semantics():
    a = space.parse(BEST)
    assert a.ops == ("nor_conv_3x3",) * 3 + ("skip_connect", "nor_conv_3x3", "nor_conv_3x3")
    assert space.format(a) == BEST == str(a)
    assert a == space.parse(BEST) and hash(a) == hash(space.parse(BEST))
    with pytest.raises(AttributeError):
        a.ops = ()  # immutable


def test_enumerate_is_the_whole_space():
    archs = space.enumerate()
    assert len(archs) == 15625 == len(set(archs))


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "conv_5x5"),
        ("|none~0|+|none~0|none~1|", "2 node groups"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "1 input edges"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|none~3|", "4 input edges"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "should come from node 0"),
        ("none~0+|none~0|none~1|+|none~0|none~1|none~2|", "must look like"),
        ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "'none0'"),
        ("", "node groups"),
    ],
)
def test_malformed_strings_name_the_problem(text, fragment):
    with pytest.raises(InvalidArchitectureError, match=fragment.replace("|", r"\|")):
        space.parse(text)


def test_values_of_wrong_shape_or_space_are_refused():
    with pytest.raises(InvalidArchitectureError, match="expected 6 edge ops"):
        space.validate(Architecture("nb201", ("none",) * 5))
    with pytest.raises(InvalidArchitectureError, match="unknown op 'conv'"):
        space.validate(Architecture("nb201", ("conv",) * 6))
    other = get_space("nas-bench-graph").enumerate()[0]
    with pytest.raises(InvalidArchitectureError, match="belongs to space 'nas-bench-graph'"):
        space.canonical(other)
    with pytest.raises(InvalidArchitectureError, match="expected a string"):
        space.parse(42)


def test_memoised_identity_equals_uncached_and_bad_values_are_still_refused():
    fresh = type(space)()
    fresh.MEMO_SIZE = 100
    archs = space.enumerate()[::50]
    for _ in range(2):  # cold, then from the memo (which is cleared whenever it fills)
        assert [fresh.canonical(a) for a in archs] == [space._canonical(a) for a in archs]
        assert [fresh.format(a) for a in archs] == [space._format(a) for a in archs]
        assert len(fresh._memo_canonical) <= 100
    bad = Architecture("nb201", ("conv",) * 6)
    for _ in range(2):  # a refused value never enters the memo
        with pytest.raises(InvalidArchitectureError, match="unknown op 'conv'"):
            fresh.canonical(bad)
        with pytest.raises(InvalidArchitectureError, match="unknown op 'conv'"):
            fresh.format(bad)
    assert bad not in fresh._memo_canonical and bad not in fresh._memo_format


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="|+~0123_abcdefghijklmnopqrstuvwxyz", max_size=120))
def test_fuzz_parser_only_raises_the_documented_error(text):
    try:
        a = space.parse(text)
    except InvalidArchitectureError:
        return
    assert space.parse(space.format(a)) == a


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(OPS), min_size=6, max_size=6))
def test_fuzz_valid_strings_roundtrip(ops):
    a = Architecture("nb201", tuple(ops))
    assert space.parse(space.format(a)) == a


def test_canonical_key_matches_benchmark_unique_string_partition_over_all_archs():
    df = pd.read_csv(NB201_CSV, usecols=["ArchitectureString", "UniqueString"])
    keys = [space.canonical(space.parse(s)) for s in df["ArchitectureString"]]
    ours = pd.Series(keys).factorize()[0]
    theirs = df["UniqueString"].factorize()[0]
    # same class <=> same key: the two labelings induce the identical partition
    pairs = set(zip(ours, theirs))
    assert len(pairs) == len(set(ours)) == len(set(theirs)) == 6466


def test_function_key_is_coarser_and_merges_zero_and_identity_variants():
    a = space.parse("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_1x1~2|")
    b = space.parse("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|skip_connect~0|none~1|none~2|")
    assert space.canonical(a) != space.canonical(b)  # NB-201's key tells them apart
    assert space.function_key(a) == space.function_key(b) == "x"
    keys = {space.function_key(x) for x in space.enumerate()}
    assert len(keys) == 4930


def test_mutate_changes_exactly_one_edge_and_never_returns_parent():
    rng = np.random.default_rng(0)
    a = space.parse(BEST)
    for _ in range(300):
        m = space.mutate(a, rng)
        assert m != a
        assert sum(x != y for x, y in zip(a.ops, m.ops)) == 1
        space.validate(m)
        a = m
    assert len(space.neighbors(a)) == 6 * 4


def test_sampling_and_crossover_are_seeded_and_valid():
    s1 = [space.sample(np.random.default_rng(3)) for _ in range(5)]
    s2 = [space.sample(np.random.default_rng(3)) for _ in range(5)]
    assert s1 == s2
    rng = np.random.default_rng(1)
    a, b = space.sample(rng), space.sample(rng)
    c = space.crossover(a, b, rng)
    assert all(x in (p, q) for x, p, q in zip(c.ops, a.ops, b.ops))
    with pytest.raises(TypeError, match="Generator"):
        space.sample(42)


def test_hierarchy_skeletons_partition_the_space():
    sk = space.skeletons()
    assert len(sk) == 3 ** len(EDGES)
    assert sum(len(space.members(s)) for s in sk) == 15625
    rng = np.random.default_rng(0)
    s = ("op", "zero", "identity", "op", "op", "zero")
    for _ in range(20):
        assert space.skeleton(space.sample(rng, skeleton=s)) == s
    with pytest.raises(InvalidArchitectureError, match="unknown skeleton"):
        space.members(("op",))
