"""Two-fidelity search (``asha``, ``guided-mf``): ASHA's promotion rule on real NB-201 records, the best ranked at the
full fidelity only, resume by replay, refusals, and real training on digits (cheap epochs, then full ones)."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest

from surrogate_nas.search import RandomSearch, SearchConfig, SearchError, TableEvaluator, run_loop, run_search
from surrogate_nas.search.multifidelity import PromotionSearch

# NB-201 records hold test accuracy after 12 and after 200 epochs: two real fidelities of one metric (a noise-free
# simulation: the full fidelity is the reported metric; the shipped records have no 200-epoch validation accuracy).
MF = dict(space="nb201", task="cifar10", metric="test_acc@12", test_metric="test_acc@200", progress=False)


def _cfg(tmp_path, name="run", **kw):
    base = dict(MF, strategy="asha", budget=30, seed=0, out=str(tmp_path / name), options={"fidelities": [12, 200]})
    return SearchConfig(**{**base, **kw})


def test_asha_promotes_the_top_third_of_the_screened_at_full_fidelity(tmp_path, nb201_table):
    r = run_search(_cfg(tmp_path))
    t = r.trajectory
    assert set(t["fidelity"]) == {12.0, 200.0}
    cheap, full = t[t["fidelity"] == 12.0], t[t["fidelity"] == 200.0]
    # every promoted cell was screened before, and its full value is the table's 200-epoch record
    assert set(full["key"]) <= set(cheap["key"])
    assert full["value"].to_numpy() == pytest.approx(nb201_table.vector("cifar10", "test_acc@200", list(full["arch"])))
    assert cheap["value"].to_numpy() == pytest.approx(nb201_table.vector("cifar10", "test_acc@12", list(cheap["arch"])))
    # ASHA's rule: a promotion is among the top floor(m / 3) of the m cells screened before it
    for i, row in full.iterrows():
        before = cheap[cheap["evaluation"] < row["evaluation"]]
        top = before.sort_values("value", ascending=False, kind="stable").head(len(before) // 3)
        assert row["key"] in set(top["key"]), row["evaluation"]
    # once a promotion is due it comes before anything new is screened: at the end at most the last screen's is due
    top = cheap.sort_values("value", ascending=False, kind="stable").head(len(cheap) // 3)
    assert len(set(top["key"]) - set(full["key"])) <= 1
    assert r.info["screened"] == len(cheap) and r.info["promoted"] == len(full)


def test_the_best_is_the_best_full_fidelity_measurement(tmp_path):
    r = run_search(_cfg(tmp_path))
    t = r.trajectory
    full = t[t["fidelity"] == 200.0]
    assert (
        r.best_value == pytest.approx(full["value"].max()) and r.best_arch == full.loc[full["value"].idxmax(), "arch"]
    )
    # a cheap value above every full one is never the result, and no best exists before the first promotion
    first_full = int(full["evaluation"].min())
    assert t.loc[t["evaluation"] < first_full, "best_value"].isna().all()
    assert t.loc[t["evaluation"] >= first_full, "best_value"].notna().all()
    best = json.loads((r.out / "best.json").read_text())
    assert best["fidelity"] == 200.0 and best["metric"] == "test_acc@200" and best["noise_free"] is True
    top = pd.read_csv(r.out / "top.csv")
    assert len(top) == min(10, len(full)) and top.columns.tolist() == ["rank", "arch", "test_acc@200", "evaluation"]
    assert set(top["arch"]) <= set(full["arch"])


def test_resume_replays_both_fidelities_and_the_journal_keeps_each(tmp_path):
    short = run_search(_cfg(tmp_path, "a", budget=20))
    longer = run_search(_cfg(tmp_path, "a", budget=32))
    fresh = run_search(_cfg(tmp_path, "b", budget=32))
    assert longer.replayed == short.evaluations == 20
    cols = ["arch", "fidelity", "value"]
    assert longer.trajectory[cols].equals(fresh.trajectory[cols])
    con = sqlite3.connect(tmp_path / "a" / "journal.sqlite")
    rows = con.execute("SELECT key, fidelity FROM evals").fetchall()
    con.close()
    keys = [k for k, _ in rows]
    assert len(set(rows)) == len(rows) and len(set(keys)) < len(keys)  # a promoted cell: one row per fidelity


def test_guided_mf_screens_with_the_predictor(tmp_path):
    r = run_search(_cfg(tmp_path, strategy="guided-mf", predictor="tree", budget=16,
                        options={"fidelities": [12, 200], "n_support": 4}))  # fmt: skip
    assert r.info["scored"] > 0 and r.info["promoted"] >= 3
    assert set(r.trajectory["fidelity"]) == {12.0, 200.0}


@pytest.mark.parametrize(
    "options, message",
    [
        ({}, "needs option fidelities"),
        ({"fidelities": [200, 12]}, "cheap < full"),
        ({"fidelities": [12]}, "two numbers"),
        ({"fidelities": [12, "200"]}, "two numbers"),
        ({"fidelities": [12, 200], "eta": 1}, "eta must be an int >= 2"),
    ],
)
def test_bad_options_are_one_line(tmp_path, options, message):
    with pytest.raises(SearchError, match=message) as e:
        run_search(_cfg(tmp_path, options=options))
    assert "\n" not in str(e.value)
    assert not (tmp_path / "run" / "journal.sqlite").exists()


def test_a_fidelity_the_records_lack_is_refused_before_anything_is_written(tmp_path):
    # NB-201 has 12-epoch validation records only: promoting to 200 would need a record that does not exist
    with pytest.raises(Exception, match="'valid_acc@200': no 'valid_acc' records of fidelity 200") as e:
        run_search(_cfg(tmp_path, metric="valid_acc@12"))
    assert "\n" not in str(e.value) and not (tmp_path / "run").exists()


def test_an_evaluator_of_one_fidelity_is_refused(nb201_table):
    class OneFidelity:
        name = "fixed"

        def evaluate(self, archs):
            return TableEvaluator(nb201_table, "cifar10", "test_acc@12").evaluate(archs)

    searcher = PromotionSearch(RandomSearch("nb201", seed=0), (12, 200))
    with pytest.raises(SearchError, match="evaluator 'fixed' measures one fidelity; the searcher asks for fidelity 12"):
        run_loop(searcher, OneFidelity(), 5)


def test_train_evaluator_trains_cheap_then_full_epochs_on_digits(tmp_path):
    import surrogate_nas.training  # noqa: F401  (registers the "train" evaluator)

    cfg = SearchConfig(space="nb201", task="digits", strategy="asha", evaluator="train", metric="valid_acc",
                       budget=5, seed=0, progress=False, out=str(tmp_path / "d"),
                       options={"fidelities": [1, 3]},
                       train={"valid_fraction": 0.2, "progress": False, "C": 4})  # fmt: skip
    r = run_search(cfg)
    t = r.trajectory
    assert t["fidelity"].tolist() == [1.0, 1.0, 1.0, 3.0, 1.0] and (t["status"] == "ok").all()
    assert (t["cost"] > 0).all()  # seconds of training
    # the search selects on the validation split and reports the test split of the same run
    assert not np.allclose(t["value"], t["test"])
    results = [json.loads(p.read_text()) for p in (tmp_path / "d" / "train-evals").glob("*/result.json")]
    assert sorted(x["epochs"] for x in results) == [1, 1, 1, 1, 3]
    promoted = t[t["fidelity"] == 3.0].iloc[0]
    mine = [x for x in results if x["epochs"] == 3][0]
    assert promoted["value"] == pytest.approx(mine["valid_acc"]) and promoted["test"] == pytest.approx(mine["test_acc"])
    # rerun with a larger budget: the finished trainings are replayed from the journal, not trained again
    r2 = run_search(cfg.model_copy(update={"budget": 6}))
    assert r2.replayed == 5
    attempts = [len(p.read_text().splitlines()) for p in (tmp_path / "d" / "train-evals").glob("*/attempts.log")]
    assert attempts == [1] * 6


@pytest.mark.slow
def test_kill_9_after_a_training_resumes_without_training_it_again(tmp_path):
    """SIGKILL after a round's training finished but before the journal committed it: the rerun replays the journal
    and reads that training's result from its file; no cell is trained twice."""
    import os
    import signal
    import subprocess
    import sys
    import textwrap

    out = tmp_path / "killed"
    cfg = dict(space="nb201", task="digits", strategy="asha", evaluator="train", metric="valid_acc", budget=7,
               seed=1, progress=False, out=str(out), options={"fidelities": [1, 2]},
               train={"valid_fraction": 0.2, "progress": False, "C": 4})  # fmt: skip
    script = textwrap.dedent(f"""
        import os, signal
        from surrogate_nas.training import TrainingEvaluator
        from surrogate_nas.search import SearchConfig, run_search
        real, n = TrainingEvaluator.evaluate, [0]
        def dying(self, archs, epochs=None):
            result = real(self, archs, epochs=epochs)
            n[0] += 1
            if n[0] == 5:
                os.kill(os.getpid(), signal.SIGKILL)
            return result
        TrainingEvaluator.evaluate = dying
        run_search(SearchConfig(**{cfg!r}))
    """)
    p = subprocess.run([sys.executable, "-c", script], env={**os.environ}, capture_output=True, timeout=300)
    assert p.returncode == -signal.SIGKILL, p.stderr.decode()[-2000:]
    con = sqlite3.connect(out / "journal.sqlite")
    assert con.execute("SELECT COUNT(*) FROM evals").fetchone()[0] == 4
    con.close()
    r = run_search(SearchConfig(**cfg))
    assert r.replayed == 4 and r.evaluations == 7 and set(r.trajectory["fidelity"]) == {1.0, 2.0}
    attempts = [len(p.read_text().splitlines()) for p in (out / "train-evals").glob("*/attempts.log")]
    assert len(attempts) == 7 and attempts == [1] * 7


@pytest.mark.gpu
def test_two_fidelity_train_search_runs_on_cuda_through_ray(tmp_path):
    """The end-to-end configuration on a GPU unchanged: bf16 autocast, channels_last, one GPU per Ray task."""
    import torch

    if not torch.cuda.is_available():
        pytest.fail("a gpu-marked test was selected but CUDA is not available")
    cfg = SearchConfig(space="nb201", task="digits", strategy="asha", evaluator="train", metric="valid_acc",
                       budget=5, seed=0, progress=False, out=str(tmp_path / "g"), train_backend="ray", batch_size=2,
                       options={"fidelities": [1, 3]},
                       train={"valid_fraction": 0.2, "progress": False, "device": "cuda", "precision": "bf16",
                              "channels_last": True})  # fmt: skip
    r = run_search(cfg)
    assert (r.trajectory["status"] == "ok").all() and set(r.trajectory["fidelity"]) == {1.0, 3.0}
    results = [json.loads(p.read_text()) for p in (tmp_path / "g" / "train-evals").glob("*/result.json")]
    assert results and all(x["device"].startswith("cuda") for x in results)
    assert r.best_test > 50.0
