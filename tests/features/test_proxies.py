"""Zero-cost proxies on the toolkit's NB-201 network: definitions on hand-sized models, determinism, sanity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from surrogate_nas.errors import DataError, SurrogateNASError
from surrogate_nas.features import PROXIES, input_batch, synflow, zero_cost_proxies
from surrogate_nas.features.compute import compute_rows
from surrogate_nas.features.proxies import JACOB_K, _jacob_cov
from surrogate_nas.networks import build_network

ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
CONV = "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|"


@pytest.fixture(scope="module")
def batch():
    torch.set_num_threads(1)
    return input_batch("digits", batch_size=8, seed=0)


def test_input_batch_is_fixed_by_its_seed(batch):
    x, y, classes, label = batch
    assert x.shape == (8, 3, 32, 32) and y.dtype == torch.int64 and classes == 10 and "digits" in label
    x2, y2, _, _ = input_batch("digits", batch_size=8, seed=0)
    x3, _, _, _ = input_batch("digits", batch_size=8, seed=1)
    assert torch.equal(x, x2) and torch.equal(y, y2) and not torch.equal(x, x3)
    assert abs(float(x.mean())) < 1e-5  # standardised


def test_input_batch_from_an_npz_file(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "cifar.npz", x=rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8), y=np.arange(20) % 10)
    x, y, classes, label = input_batch("cifar.npz", batch_size=6, seed=0, data_root=tmp_path)
    assert x.shape == (6, 3, 32, 32) and classes == 10 and "cifar.npz" in label
    with pytest.raises(DataError, match="expected 'digits' or an existing .npz"):
        input_batch("cifar10", batch_size=6, data_root=tmp_path)
    np.savez(tmp_path / "bad.npz", x=np.zeros((4, 16, 16, 3), np.uint8), y=np.zeros(4))
    with pytest.raises(DataError, match="N x 32 x 32 x 3"):
        input_batch(tmp_path / "bad.npz", batch_size=2)
    with pytest.raises(SurrogateNASError, match="batch_size must be an int >= 2"):
        input_batch("digits", batch_size=1)
    x20 = rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)
    nan = x20.astype(np.float32)
    nan[3, 1, 1, 1] = np.nan
    for name, arrays, fragment in [
        ("text.npz", {"x": x20.astype(str), "y": np.arange(20)}, "x holds <U3 values; images must be numbers"),
        ("nan.npz", {"x": nan, "y": np.arange(20)}, "x has a non-finite pixel \\(nan\\) in image 4"),
        ("neg.npz", {"x": x20, "y": np.arange(20) - 3}, "label -3 of image 1 is negative"),
        ("half.npz", {"x": x20, "y": np.arange(20) / 2}, "y holds float64 values that are not whole numbers"),
    ]:
        np.savez(tmp_path / name, **arrays)
        with pytest.raises(DataError, match=fragment):
            input_batch(tmp_path / name, batch_size=4)
    np.savez(tmp_path / "float-labels.npz", x=x20, y=(np.arange(20) % 10).astype(float))  # whole numbers are fine
    assert input_batch(tmp_path / "float-labels.npz", batch_size=4)[2] == 10


def test_synflow_of_a_two_layer_linear_net():
    # R = sum_i |v_i| |w_i| on an all-ones input; every weight's |theta * dR/dtheta| adds one term per layer: 2R
    net = nn.Sequential(nn.Conv2d(1, 3, 1, bias=False), nn.Flatten(), nn.Linear(3, 1, bias=False))
    w, v = net[0].weight.detach().flatten().double(), net[2].weight.detach().flatten().double()
    assert synflow(net, (1, 1, 1)) == pytest.approx(2 * float((w.abs() * v.abs()).sum()), rel=1e-12)
    assert torch.equal(net[0].weight.detach().flatten().double(), w)  # scored on a copy: the module's signs stay


def test_proxy_definitions_on_a_small_net():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    x, y = torch.randn(5, 1, 4, 4), torch.tensor([0, 1, 2, 0, 1])
    before = [p.detach().clone() for p in net.parameters()]
    s = zero_cost_proxies(net, x, y)
    assert tuple(s) == PROXIES
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))  # weights untouched
    # by hand
    loss = nn.functional.cross_entropy(net(x), y)
    gc, gl = torch.autograd.grad(loss, [net[0].weight, net[3].weight])
    wc, wl = net[0].weight.detach(), net[3].weight.detach()
    assert s["snip"] == pytest.approx(float((wc * gc).abs().sum() + (wl * gl).abs().sum()))
    assert s["grad_norm"] == pytest.approx(float(gc.norm() + gl.norm()))  # sum of per-layer norms
    xi = x.clone().requires_grad_(True)
    (jac,) = torch.autograd.grad(net(xi).sum(), xi)
    ev = np.linalg.eigvalsh(np.corrcoef(jac.reshape(5, -1).double().numpy()))
    assert s["jacob_cov"] == pytest.approx(-np.sum(np.log(ev + JACOB_K) + 1 / (ev + JACOB_K)))
    c = (net[0](x).reshape(5, -1) > 0).double()
    k = c @ c.T + (1 - c) @ (1 - c).T
    assert s["naswot"] == pytest.approx(float(torch.linalg.slogdet(k)[1]))


def test_jacob_cov_of_a_constant_jacobian_is_the_rank_one_score():
    n = 4
    rank_one = -(np.log(n + JACOB_K) + 1 / (n + JACOB_K)) - (n - 1) * (np.log(JACOB_K) + 1 / JACOB_K)
    assert _jacob_cov(np.zeros((n, 10))) == pytest.approx(rank_one)
    assert _jacob_cov(np.random.default_rng(0).normal(size=(n, 10))) > rank_one


def test_proxies_are_deterministic_for_a_seed(batch):
    x, y, classes, _ = batch
    a = zero_cost_proxies(build_network(CONV, classes, C=8, N=1, seed=0), x, y)
    b = zero_cost_proxies(build_network(CONV, classes, C=8, N=1, seed=0), x, y)
    c = zero_cost_proxies(build_network(CONV, classes, C=8, N=1, seed=1), x, y)
    assert a == b and a != c
    with pytest.raises(SurrogateNASError, match="N >= 2"):
        zero_cost_proxies(build_network(CONV, classes, C=8, N=1), x[:1], y[:1])


def test_an_all_none_cell_scores_below_a_conv_cell_and_nothing_is_nan(batch):
    x, y, classes, _ = batch
    none, conv = compute_rows([ALL_NONE, CONV], x, y, classes, seed=0)  # the full C=16, N=5 network
    assert none["params"] < conv["params"] and none["flops"] < conv["flops"]
    for name in PROXIES:
        assert not np.isnan(none[name]) and not np.isnan(conv[name]), name
        assert none[name] < conv[name], name
    # the input never reaches the output: no gradient, one code for every image
    assert none["synflow"] == none["snip"] == none["grad_norm"] == 0 and none["naswot"] == -np.inf
