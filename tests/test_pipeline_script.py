"""The pipeline script's report pieces: the records' optimum, the shared random/evolution prefix, the plot."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from .conftest import load_experiment


@pytest.fixture(scope="module")
def pipeline():
    return load_experiment("pipeline")


def _traj(values, tests, keys=None):
    v, t = np.asarray(values, float), np.asarray(tests, float)
    best = np.array([int(np.argmax(v[: i + 1])) for i in range(len(v))])
    keys = keys or [f"k{i}" for i in range(len(v))]
    return pd.DataFrame({"key": keys, "value": v, "test": t, "best_value": v[best], "best_test": t[best],
                         "best_arch": [keys[i] for i in best]})


def test_records_optimum_keeps_best_valid_and_best_test_archs_apart(pipeline, nbg_table):
    rec = pipeline.records_optimum(nbg_table, "cora")
    # read off the NAS-Bench-Graph records of cora: the best-valid arch is not the best-test arch
    assert rec["n"] == 26206 and not rec["same_arch"]
    assert rec["valid_arch"] == "0123:fc-gat-fc-gin" and rec["valid_best"] == pytest.approx(0.8193, abs=1e-4)
    assert rec["valid_arch_test"] == pytest.approx(0.8263, abs=1e-4)
    assert rec["test_arch"] == "0122:fc-gat-gcn-graph" and rec["test_best"] == pytest.approx(0.8313, abs=1e-4)
    assert rec["test_arch_valid"] == pytest.approx(0.8093, abs=1e-4)


def test_shared_prefix_and_summary_rows(pipeline):
    a = _traj([1, 2, 3, 4], [1, 1, 1, 1], ["a", "b", "c", "d"])
    b = _traj([1, 2, 0, 5], [1, 1, 1, 1], ["a", "b", "x", "d"])
    assert pipeline.shared_prefix(a, b) == 2 and pipeline.shared_prefix(a, a) == 4
    assert pipeline.shared_prefix(a, _traj([9], [9], ["z"])) == 0

    # the test value reported is that of the best-valid arch, and it may go down
    t = _traj(np.arange(1, 26) / 100, [0.5] * 9 + [0.4] * 16)
    s = pipeline.summary_frame({"m": SimpleNamespace(trajectory=t, evaluations=25)})
    assert s["evaluations"].tolist() == [5, 10, 20, 25]
    assert s["best valid_perf so far"].tolist() == pytest.approx([0.05, 0.10, 0.20, 0.25])
    assert s["test_perf of that arch"].tolist() == pytest.approx([0.5, 0.4, 0.4, 0.4])


def test_figure_shows_every_value_and_keeps_the_legend_off_the_axes(pipeline):
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    valid = np.r_[0.30, 0.78 + 0.02 * rng.random(39)]  # a poor first arch far below the rest
    trajs = {"guided-meta": _traj(valid[:20] + 0.01, valid[:20]), "evolution": _traj(valid, valid - 0.2),
             "random": _traj(valid, valid - 0.2)}
    rec = {"valid_best": 0.85, "valid_arch_test": 0.84, "test_best": 0.86, "same_arch": False}
    fig = pipeline.figure(trajs, rec, "cora", 20, note="a note")
    try:
        ax_v, ax_t = fig.axes
        assert "best valid_perf found so far" in ax_v.get_title()
        assert "best" not in ax_t.get_title().split("of the arch")[0]  # the test panel is not called a best-so-far
        lo, hi = ax_v.get_ylim()
        assert lo < 0.30 + 0.01 and hi > 0.85  # the first evaluation and the records' optimum are inside
        lo, hi = ax_t.get_ylim()
        assert lo < 0.10 and hi > 0.86
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        (legend,) = fig.legends
        box = legend.get_window_extent(renderer)
        for ax in (ax_v, ax_t):
            assert not box.overlaps(ax.get_window_extent(renderer))
        labels = [t.get_text() for t in legend.get_texts()]
        assert any("another arch" in x for x in labels) and any("best-valid arch" in x for x in labels)
    finally:
        plt.close(fig)
