import time

import torch
from torch_geometric.data import Batch

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


def test_whole_nas_bench_graph_space_converts_fast():
    sp = get_space("nas-bench-graph")
    archs = sp.enumerate()
    clear_cache()
    t = time.perf_counter()
    b = to_batch(sp, archs)
    cold = time.perf_counter() - t
    assert b.num_graphs == 26206
    assert cold < 2.0, f"cold conversion of 26,206 graphs took {cold:.2f}s"
