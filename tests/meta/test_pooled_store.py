"""The graph rows kept across processes (meta.pooled.rows_on_disk) and the deferred convolutions that let a
prediction from them skip PyG: a checkpoint loaded with ``defer_convs`` predicts exactly what one loaded whole does,
builds no convolution (nor imports PyG) where the store holds its rows, and the store never serves rows of other
weights; a damaged file is recomputed, the oldest files go beyond MAX_STORED."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from surrogate_nas.errors import DataError
from surrogate_nas.meta import pooled
from surrogate_nas.meta.adapt import adapt
from surrogate_nas.meta.checkpoint import load_checkpoint, save_checkpoint
from surrogate_nas.predictors.gnn import GraphRegressor, ModelConfig

from .conftest import distinct_sample

TASK = "ImageNet16-120"
#: Measured: the same rows read from the store or computed give predictions equal to the last bit on one machine;
#: between a stored row and a recomputed one only float32 summation order can differ.
ATOL = 1e-5


@pytest.fixture(scope="module")
def dkt_dir(dkt, tmp_path_factory):
    return save_checkpoint(dkt, tmp_path_factory.mktemp("pooled") / "dkt")


@pytest.fixture(scope="module")
def data(nb201_table):
    a = distinct_sample(nb201_table.space, nb201_table.space.enumerate(), 140, seed=5)
    return a, nb201_table.vector(TASK, "test_acc", a)


@pytest.fixture
def store(tmp_path, monkeypatch):
    """An empty user cache (so an empty store) and an empty process cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    pooled.clear_pooled_cache()
    yield tmp_path / "cache" / "surrogate_nas" / "pooled"
    pooled.clear_pooled_cache()


def _predict(ckpt, a, y):
    return adapt(ckpt, (a[:20], y[:20]), task=TASK).predict(a[20:], return_std=True)


# ---------------------------------------------------------------------- deferred convolutions
@pytest.mark.parametrize("config", [ModelConfig(hidden=8, layers=2), ModelConfig(hidden=8, conv="gat", bidirectional=True)])
def test_deferred_convolutions_are_built_with_their_weights_when_reached(config):
    torch.manual_seed(0)
    whole = GraphRegressor(9, config)
    state = whole.state_dict()
    lazy = GraphRegressor(9, config, defer_convs=True)
    lazy.load_state_dict(state)
    assert lazy.convs_deferred and len(torch.nn.Module.state_dict(lazy)) < len(state)
    weights = lazy.graph_weights()  # what the store's name hashes: the same whether built or not
    assert sorted(weights) == sorted(whole.graph_weights())
    assert all(torch.equal(weights[k], whole.graph_weights()[k]) for k in weights) and lazy.convs_deferred
    assert list(lazy.state_dict()) == list(state) and not lazy.convs_deferred  # built, in the same order
    assert all(torch.equal(lazy.state_dict()[k], state[k]) for k in state)
    for reach, builds in ((lambda m: m.convs, True), (lambda m: list(m.parameters()), True),
                          (lambda m: m.pool_dim(), False), (lambda m: m.cpu(), False)):
        other = GraphRegressor(9, config, defer_convs=True)
        other.load_state_dict(state)
        reach(other)
        assert other.convs_deferred != builds


def test_deferred_convolutions_that_do_not_fit_their_weights_are_refused_by_name():
    state = GraphRegressor(9, ModelConfig(hidden=8, layers=2)).state_dict()
    lazy = GraphRegressor(9, ModelConfig(hidden=8, layers=2, conv="gcn"), defer_convs=True)
    lazy.load_state_dict(state)  # the convolutions' weights are only kept here
    with pytest.raises(DataError, match=r"gcn convolutions do not fit .*'convs\.0\.\S+' (missing|unexpected)"):
        lazy.convs
    assert lazy.convs_deferred  # refused whole: nothing half-built


def test_a_checkpoint_loaded_with_deferred_convolutions_predicts_the_same(dkt_dir, nb201_ckpt_dir, data, store):
    a, y = data
    for d, steps in ((dkt_dir, None), (nb201_ckpt_dir, 2)):  # the GP head on cached rows; MAML's inner steps
        ref = adapt(load_checkpoint(d), (a[:20], y[:20]), task=TASK, inner_steps=steps).predict(a[20:])
        lazy = load_checkpoint(d, defer_convs=True)
        got = adapt(lazy, (a[:20], y[:20]), task=TASK, inner_steps=steps).predict(a[20:])
        assert np.allclose(got, ref, rtol=0, atol=ATOL)
        assert not lazy.model.convs_deferred  # without the store the graph part ran


# ---------------------------------------------------------------------- the store
def test_rows_stored_by_one_load_serve_the_next_without_building_a_convolution(dkt_dir, data, store, monkeypatch):
    a, y = data
    ref = _predict(load_checkpoint(dkt_dir), a, y)
    pooled.clear_pooled_cache()
    with pooled.rows_on_disk():
        first = _predict(load_checkpoint(dkt_dir, defer_convs=True), a, y)
    assert len(list(store.glob("*.pt"))) == 1
    pooled.clear_pooled_cache()
    monkeypatch.setattr(GraphRegressor, "build_convs", lambda self: pytest.fail("the graph part ran"))
    with pooled.rows_on_disk():
        lazy = load_checkpoint(dkt_dir, defer_convs=True)
        second = _predict(lazy, a, y)
    assert lazy.model.convs_deferred
    for i in (0, 1):
        assert np.allclose(first[i], ref[i], rtol=0, atol=ATOL) and np.array_equal(second[i], first[i])


def test_the_store_is_read_only_within_rows_on_disk_and_never_for_other_weights(dkt_dir, data, store):
    a, y = data
    _predict(load_checkpoint(dkt_dir), a, y)
    assert not store.exists()  # outside the block nothing is written
    with pooled.rows_on_disk():
        _predict(load_checkpoint(dkt_dir), a, y)
    ckpt = load_checkpoint(dkt_dir)
    with torch.no_grad():
        ckpt.model.convs[0].nn[0].weight.add_(0.5)
    pooled.clear_pooled_cache()
    with pooled.rows_on_disk():
        changed = _predict(ckpt, a, y)
    assert len(list(store.glob("*.pt"))) == 2  # its own file
    pooled.clear_pooled_cache()
    ref = _predict(ckpt, a, y)
    assert np.allclose(changed[0], ref[0], rtol=0, atol=ATOL)


def test_the_same_weights_under_another_configuration_have_their_own_file(dkt_dir, store):
    a, b = load_checkpoint(dkt_dir, defer_convs=True), load_checkpoint(dkt_dir, defer_convs=True)
    b.model.config = b.model.config.model_copy(update={"conv": "gcn"})  # as an edited config.json would read
    assert pooled.store_path(a.model, a.space, "cpu", False) != pooled.store_path(b.model, b.space, "cpu", False)


def test_a_damaged_store_file_is_recomputed_and_rewritten(dkt_dir, data, store):
    a, y = data
    ref = _predict(load_checkpoint(dkt_dir), a, y)
    with pooled.rows_on_disk():
        _predict(load_checkpoint(dkt_dir), a, y)
    (path,) = store.glob("*.pt")
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    pooled.clear_pooled_cache()
    with pooled.rows_on_disk():
        got = _predict(load_checkpoint(dkt_dir, defer_convs=True), a, y)
    assert np.allclose(got[0], ref[0], rtol=0, atol=ATOL) and path.stat().st_size == len(good)


def test_the_store_keeps_the_newest_files(dkt_dir, data, store, monkeypatch):
    a, y = data
    monkeypatch.setattr(pooled, "MAX_STORED", 2)
    written = []
    for i in range(3):
        ckpt = load_checkpoint(dkt_dir)
        with torch.no_grad():
            ckpt.model.embed.weight.add_(0.1 * (i + 1))  # other weights: another file
        with pooled.rows_on_disk():
            adapt(ckpt, (a[:20], y[:20]), task=TASK).predict(a[20:40])
        written.append(pooled.store_path(ckpt.model, ckpt.space, "cpu", False))
        os.utime(written[-1], (1_000_000 + i, 1_000_000 + i))  # distinct times in the order written (coarse clocks)
    assert sorted(store.glob("*.pt")) == sorted(written[1:])  # the third write dropped the first file


def test_cli_predict_from_stored_rows_does_not_import_pyg(dkt_dir, data, tmp_path, nb201_table):
    """The command twice in fresh processes: the second reads the rows the first stored, builds no convolution and
    never imports PyG (the seconds of ``torch._dynamo`` it costs), and writes the same predictions."""
    a, y = data
    support = tmp_path / "measured.csv"
    support.write_text("arch,value\n" + "".join(f"{nb201_table.space.format(s)},{v}\n" for s, v in zip(a[:20], y[:20])))
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "TQDM_DISABLE": "1"}
    probe = textwrap.dedent("""
        import sys
        from surrogate_nas.cli import main
        rc = main(sys.argv[1:])
        print("PYG", "torch_geometric" in sys.modules)
        sys.exit(rc)
    """)
    outs = []
    for i in range(2):
        out = tmp_path / f"p{i}.csv"
        cmd = [sys.executable, "-c", probe, "predict", "--model", str(dkt_dir), "--support", str(support), "--all",
               "--task", TASK, "--out", str(out), "--show", "0"]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0, r.stderr
        outs.append((out.read_text(), r.stdout.strip().splitlines()[-1]))
    assert outs[0][1] == "PYG True" and outs[1][1] == "PYG False"
    assert outs[0][0] == outs[1][0]


def test_rows_computed_in_turns_by_one_fit_are_all_stored(dkt_dir, data, store, monkeypatch):
    """A fit reads the warp's fixed sample, then the support: each computed part is added to the store (neither
    replaces what the other wrote, although building the deferred convolutions on the first part's way changes the
    weights' addresses), so a second process fitting the same support computes none of them."""
    a, y = data
    with pooled.rows_on_disk():
        first = adapt(load_checkpoint(dkt_dir, defer_convs=True), (a[:20], y[:20]), task=TASK)
    pooled.clear_pooled_cache()
    monkeypatch.setattr(GraphRegressor, "build_convs", lambda self: pytest.fail("the graph part ran"))
    with pooled.rows_on_disk():
        second = adapt(load_checkpoint(dkt_dir, defer_convs=True), (a[:20], y[:20]), task=TASK)
    assert first.prior_warp_ is not None and second.std_factor_ == first.std_factor_
    assert np.array_equal(second.prior_warp_.knots_y, first.prior_warp_.knots_y)
