"""NB-201 params/FLOPs belong to the string (a string is a network); zero-cost proxies to the canonical class."""

from __future__ import annotations

import numpy as np
import pytest

from surrogate_nas.features import (NB201_FEATURES, feature_ranks, free_features, rank_normalise, read_features,
                                    read_params_flops)
from surrogate_nas.features.compute import C, FLOP_CONVENTION, N, compute_params_flops
from surrogate_nas.features.proxies import INPUT_SHAPE
from surrogate_nas.features.table import PER_STRING_FEATURES
from surrogate_nas.networks import build_network, count_flops, count_parameters

#: Isomorphic (one canonical key), but one has two 1x1 convs where the other has one: different networks.
POOL_FIRST = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
CONV_FIRST = "|nor_conv_1x1~0|+|avg_pool_3x3~0|skip_connect~1|+|avg_pool_3x3~0|skip_connect~1|skip_connect~2|"
PROXIES = tuple(f for f in NB201_FEATURES if f not in PER_STRING_FEATURES)


def _counted(arch: str, num_classes: int = 10) -> tuple[int, int]:
    """The built network's own counts, in the configuration the shipped tables record (10 classes)."""
    net = build_network(arch, num_classes=num_classes, C=C, N=N)
    return count_parameters(net), count_flops(net, INPUT_SHAPE, convention=FLOP_CONVENTION)


def test_shipped_table_covers_every_string_with_its_class(nb201_table):
    frame, meta = read_params_flops()
    space = nb201_table.space
    assert len(frame) == 15625 and set(frame.index) == {space.format(a) for a in space.enumerate()}
    assert meta["network"] == "NB-201 C=16 N=5, 10 classes" and meta["flops_convention"] == FLOP_CONVENTION
    some = frame.index[::997]
    assert [space.canonical(space.parse(s)) for s in some] == frame.loc[some, "key"].tolist()
    # the class table's params/FLOPs are its representative's: the same numbers for that string
    classes, _ = read_features()
    assert np.array_equal(frame.loc[classes["arch"], "params"].to_numpy(), classes["params"].to_numpy())
    assert np.array_equal(frame.loc[classes["arch"], "flops"].to_numpy(), classes["flops"].to_numpy())


def test_params_and_flops_of_random_strings_equal_their_networks(nb201_table):
    archs = nb201_table.space.enumerate()
    pick = [archs[i] for i in np.random.default_rng(7).choice(len(archs), 24, replace=False)]
    got = free_features(nb201_table, "cifar100", pick, ["params", "flops"])
    want = np.array([_counted(nb201_table.space.format(a)) for a in pick], dtype=float)
    assert np.array_equal(got, want)  # exact


def test_isomorphic_strings_get_their_own_params_and_flops_but_one_class_of_proxies(nb201_table):
    space = nb201_table.space
    assert space.canonical(space.parse(POOL_FIRST)) == space.canonical(space.parse(CONV_FIRST))
    raw = free_features(nb201_table, "cifar10", [POOL_FIRST, CONV_FIRST])
    j = {n: i for i, n in enumerate(NB201_FEATURES)}
    assert (raw[0, j["params"]], raw[1, j["params"]]) == (129306, 101306)  # 135,156 / 107,156 at 100 classes
    assert [raw[i, j["params"]] for i in (0, 1)] == [_counted(a)[0] for a in (POOL_FIRST, CONV_FIRST)]
    assert raw[0, j["flops"]] != raw[1, j["flops"]]
    assert [raw[i, j["flops"]] for i in (0, 1)] == [_counted(a)[1] for a in (POOL_FIRST, CONV_FIRST)]
    assert np.array_equal(raw[0, [j[p] for p in PROXIES]], raw[1, [j[p] for p in PROXIES]])  # one function
    assert _counted(POOL_FIRST, 100)[0] == 135156 and _counted(CONV_FIRST, 100)[0] == 107156
    ranks = feature_ranks(nb201_table, "cifar10", [POOL_FIRST, CONV_FIRST])
    assert ranks[0, j["params"]] > ranks[1, j["params"]]
    assert np.array_equal(ranks[0, [j[p] for p in PROXIES]], ranks[1, [j[p] for p in PROXIES]])


def test_per_string_ranks_are_over_all_strings(nb201_table):
    frame, _ = read_params_flops()
    archs = nb201_table.space.enumerate()
    r = feature_ranks(nb201_table, "cifar10", archs[:40], ["flops", "params"])
    want = rank_normalise(frame["flops"].to_numpy())[:40]  # the table is in enumerate() order
    assert np.array_equal(r[:, 0], want)
    assert r.min() >= -1 and r.max() <= 1


def test_compute_params_flops_writes_the_shipped_format(tmp_path, monkeypatch, nb201_table):
    """The command that made the shipped file, on the first 30 strings (the enumeration is patched)."""
    space = nb201_table.space
    few = space.enumerate()[:30]
    monkeypatch.setattr(type(space), "enumerate", lambda self: few)
    out = compute_params_flops("nb201", out=tmp_path / "pf.csv.xz", progress=False)
    frame, meta = read_params_flops(out)
    shipped, _ = read_params_flops()
    assert list(frame.index) == [space.format(a) for a in few]
    assert frame.equals(shipped.loc[frame.index])
    assert "compute_params_flops('nb201'" in meta["command"]


def test_the_300_random_cells_figure(nb201_table):
    """Before: 71 of 300 random cells had a feature parameter count differing from their own network's
    (the class table's, up to 87%). Per string: none (checked on 60 here; data/README.md has the 300)."""
    archs = nb201_table.space.enumerate()
    pick = [archs[i] for i in np.random.default_rng(300).choice(len(archs), 60, replace=False)]
    got = free_features(nb201_table, "cifar10", pick, ["params"])[:, 0]
    want = np.array([count_parameters(build_network(a, num_classes=10)) for a in pick], dtype=float)
    assert np.array_equal(got, want)
    by_class = read_features()[0].loc[[nb201_table.space.canonical(a) for a in pick], "params"].to_numpy()
    assert (by_class != want).any()  # the old lookup was wrong on some of them
