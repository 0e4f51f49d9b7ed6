import pytest
import torch
from torch_geometric.data import Batch

from surrogate_nas.errors import InvalidArchitectureError, SurrogateNASError
from surrogate_nas.graphs import clear_cache, to_batch, to_graph
from surrogate_nas.spaces import get_space


def test_nb201_graph_structure():
    sp = get_space("nb201")
    a = sp.parse("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|")
    g = to_graph(sp, a)
    v = sp.vocabulary
    assert g.num_nodes == 10
    assert [v[i] for i in g.x.tolist()] == ["input", "node", "node", "output", "nor_conv_3x3", "none",
                                           "skip_connect", "avg_pool_3x3", "none", "nor_conv_1x1"]
    edges = set(map(tuple, g.edge_index.t().tolist()))
    assert (0, 4) in edges and (4, 1) in edges  # conv on edge 0->1
    assert (0, 5) in edges and not any(src == 5 for src, _ in edges)  # zero edge carries nothing


def test_nbg_graph_feeds_unread_nodes_to_output():
    sp = get_space("nas-bench-graph")
    g = to_graph(sp, sp.parse("0012:gcn-gat-skip-sage"))
    edges = set(map(tuple, g.edge_index.t().tolist()))
    assert edges == {(0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 5)}


def test_batched_conversion_equals_pyg_batching():
    sp = get_space("nas-bench-graph")
    archs = sp.enumerate()[:300]
    ref = Batch.from_data_list([to_graph(sp, a) for a in archs])
    b = to_batch(sp, archs)
    for attr in ("x", "edge_index", "batch", "ptr"):
        assert torch.equal(getattr(ref, attr), getattr(b, attr)), attr
    assert b.num_graphs == 300


def test_whole_nas_bench_graph_space_converts_cold_and_warm_alike():
    # speed is measured by experiments/graph_conversion.py (a timing assert flakes on a busy machine)
    sp = get_space("nas-bench-graph")
    archs = sp.enumerate()
    clear_cache()
    cold = to_batch(sp, archs)
    warm = to_batch(sp, iter(archs))  # any iterable
    assert cold.num_graphs == 26206 and int(cold.ptr[-1]) == 6 * 26206
    for attr in ("x", "edge_index", "batch", "ptr"):
        assert torch.equal(getattr(cold, attr), getattr(warm, attr)), attr
    for i in (0, 13_000, 26_205):
        g = to_graph(sp, archs[i])
        lo, hi = int(cold.ptr[i]), int(cold.ptr[i + 1])
        assert torch.equal(cold.x[lo:hi], g.x)


def test_empty_batch_is_a_clear_error():
    with pytest.raises(SurrogateNASError, match="no architectures given"):
        to_batch("nb201", [])
    with pytest.raises(SurrogateNASError, match="no architectures given"):
        to_batch("nb201", iter(()))


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "expected an Architecture, got str"),
        (["none"] * 6, "expected an Architecture, got list"),
        (None, "expected an Architecture, got NoneType"),
    ],
)
def test_values_that_are_not_architectures_are_named(bad, fragment):
    sp = get_space("nb201")
    with pytest.raises(InvalidArchitectureError, match=fragment):
        to_batch(sp, [sp.enumerate()[0], bad])
    with pytest.raises(InvalidArchitectureError, match=fragment):
        to_graph(sp, bad)


def test_architecture_of_another_space_is_refused():
    other = get_space("nas-bench-graph").enumerate()[0]
    with pytest.raises(InvalidArchitectureError, match="belongs to space 'nas-bench-graph'"):
        to_batch("nb201", [other])
    with pytest.raises(SurrogateNASError, match="unknown search space 'nb999'"):
        to_batch("nb999", [other])
