from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from surrogate_nas.benchmarks.table import BenchmarkTable
from surrogate_nas.errors import DataError, InvalidArchitectureError, SurrogateNASError
from surrogate_nas.spaces import Architecture
from surrogate_nas.training import LocalBackend, TrainingEvaluator, VerifyConfig, make_job, read_candidates, verify
from surrogate_nas.training import backends as backends_mod

from .conftest import ARCH_A, ARCH_B, ARCH_C


def _config(tmp_path, tiny_config, **kw):
    return VerifyConfig(**{"dataset": "digits", "train": tiny_config, "out_dir": str(tmp_path / "out"), **kw})


def test_verify_end_to_end_records_and_side_by_side(tmp_path, tiny_config):
    csv = tmp_path / "top.csv"
    pd.DataFrame({"arch": [ARCH_A, ARCH_B, ARCH_C], "predicted": [0.93, 0.80, 0.85]}).to_csv(csv, index=False)
    table_path = tmp_path / "table.parquet"
    res = verify(csv, _config(tmp_path, tiny_config, append_to=str(table_path)))

    assert list(res["arch"]) == [ARCH_A, ARCH_B, ARCH_C]
    assert (res["status"] == "ok").all() and (res["test_acc"] > 50).all()
    assert res["predicted"].tolist() == [0.93, 0.80, 0.85]
    assert res["params_m"].iloc[0] == pytest.approx(0.067426)
    assert -1 <= res.attrs["kendall_tau"] <= 1 and -1 <= res.attrs["spearman"] <= 1

    out = tmp_path / "out"
    assert (out / "verify.yaml").is_file()
    on_disk = pd.read_csv(out / "results.csv")
    assert len(on_disk) == 3 and set(on_disk["status"]) == {"ok"}
    md = (out / "summary.md").read_text()
    assert "Kendall tau" in md and "0.93" in md and "\\|nor_conv_3x3~0\\|" in md

    table = BenchmarkTable.read_parquet(out / "records.parquet")
    assert table.tasks == ["digits"] and len(table) == 3 * 4
    assert set(table.frame["metric"]) == {"test_acc", "params", "flops", "train_seconds"}
    assert set(table.frame["fidelity"]) == {3.0}
    measured = table.frame[table.frame["metric"] == "test_acc"].set_index("arch")["value"]
    assert measured[ARCH_A] == pytest.approx(res.set_index("arch")["test_acc"][ARCH_A])

    # run again: nothing retrains (each candidate trained once), the appended table has no duplicates
    again = verify(csv, _config(tmp_path, tiny_config, append_to=str(table_path)))
    assert again["attempts"].tolist() == [1, 1, 1]
    assert again["test_acc"].tolist() == res["test_acc"].tolist()
    assert len(BenchmarkTable.read_parquet(table_path)) == 12


def test_top_k_by_the_stated_rank_and_seeds(tmp_path, tiny_config):
    cfg = _config(tmp_path, tiny_config.replace(epochs=1), top_k=1, seeds=(0, 1))
    # lower is better here (e.g. predicted latency): the rank column says which is best, not the values
    cands = pd.DataFrame({"rank": [2, 1], "arch": [ARCH_A, ARCH_B], "predicted": [0.1, 0.9]})
    res = verify(cands, cfg)
    assert res["arch"].tolist() == [ARCH_B, ARCH_B] and res["seed"].tolist() == [0, 1]
    assert res["key"].nunique() == 2 and res.attrs["kendall_tau"] is None
    with pytest.raises(SurrogateNASError, match="top_k ranks candidates by their 'rank' column"):
        verify([ARCH_A, ARCH_B], cfg, predicted=[0.1, 0.9])


def test_one_failing_candidate_is_recorded_and_others_continue(tmp_path, tiny_config, monkeypatch):
    real_train = backends_mod.train

    def flaky(arch, *args, **kwargs):
        if arch == ARCH_B:
            raise RuntimeError("boom on purpose")
        return real_train(arch, *args, **kwargs)

    monkeypatch.setattr(backends_mod, "train", flaky)
    res = verify([ARCH_A, ARCH_B, ARCH_C], _config(tmp_path, tiny_config.replace(epochs=1)))
    assert res["status"].tolist() == ["ok", "failed", "ok"]
    assert "RuntimeError: boom on purpose" in res["error"].iloc[1]
    table = BenchmarkTable.read_parquet(tmp_path / "out" / "records.parquet")
    assert ARCH_B not in set(table.frame["arch"]) and len(table) == 2 * 4
    assert "boom on purpose" in (tmp_path / "out" / "summary.md").read_text()


def test_bad_input_is_refused_before_training(tmp_path, tiny_config):
    with pytest.raises(SurrogateNASError, match="unknown dataset 'cifar11'"):
        verify([ARCH_A], _config(tmp_path, tiny_config, dataset="cifar11"))
    missing = tmp_path / "no-cifar-here"
    with pytest.raises(DataError, match=str(missing)):
        verify([ARCH_A], _config(tmp_path, tiny_config, dataset="cifar10", data_root=str(missing)))
    other = Architecture("nas-bench-graph", ("gcn", "gat", "sage", "gin"), (0, 0, 1, 2))
    with pytest.raises(InvalidArchitectureError, match="candidate 2.*nas-bench-graph"):
        verify([ARCH_A, other], _config(tmp_path, tiny_config))
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("architecture,predicted\nx,1\n")
    with pytest.raises(DataError, match="needs a column 'arch'"):
        read_candidates(bad_csv)
    with pytest.raises(DataError, match="does not exist"):
        read_candidates(tmp_path / "nope.csv")
    assert not (tmp_path / "out" / "jobs").exists()


def test_training_evaluator_for_search(tmp_path, tiny_config):
    ev = TrainingEvaluator("digits", train_config=tiny_config.replace(epochs=1), work_dir=tmp_path)
    first = ev.evaluate([ARCH_A, ARCH_B, ARCH_A])
    assert [r["status"] for r in first] == ["ok", "ok", "ok"]
    assert first[0]["value"] == first[2]["value"] and first[0]["value"] > 10
    assert all(r["cost_seconds"] > 0 and r["error"] is None for r in first)
    # cached on disk by canonical key: evaluating again does not train again
    job = make_job(ARCH_A, "digits", tiny_config.replace(epochs=1), tmp_path)
    before = (backends_mod.job_dir(job) / "attempts.log").read_text()
    assert ev(ARCH_A for _ in range(1))[0]["value"] == first[0]["value"]
    assert (backends_mod.job_dir(job) / "attempts.log").read_text() == before
    with pytest.raises(SurrogateNASError, match="valid_fraction"):
        TrainingEvaluator("digits", metric="valid_acc").evaluate([ARCH_A])


@pytest.mark.slow  # spawns two worker processes, each importing torch (~10 s on 2 busy cores)
def test_local_process_pool_backend(tmp_path, tiny_config):
    cfg = tiny_config.replace(epochs=1, num_threads=1)
    jobs = [make_job(a, "digits", cfg, tmp_path) for a in (ARCH_A, ARCH_B)]
    res = LocalBackend(workers=2).run(jobs + jobs[:1])  # a duplicate job is run once
    assert [r["status"] for r in res] == ["ok", "ok"]
    assert [r["key"] for r in res] == [j.key for j in jobs]
    assert json.loads((backends_mod.job_dir(jobs[0]) / "result.json").read_text())["test_acc"] == res[0]["test_acc"]
    assert np.isfinite(res[1]["test_acc"])


def test_unknown_backend_and_bad_backend_options(tmp_path, tiny_config):
    from surrogate_nas.training import get_backend

    with pytest.raises(SurrogateNASError, match="unknown training backend 'slurm'.*local, ray"):
        get_backend("slurm")
    with pytest.raises(SurrogateNASError, match="bad options.*'local'"):
        get_backend("local", address="auto")


def test_library_refuses_bad_outputs_and_settings_before_training(tmp_path, tiny_config):
    """The same checks without the CLI (which may refuse some values itself first)."""
    existing = tmp_path / "a-file"
    existing.write_text("keep\n")
    with pytest.raises(SurrogateNASError, match=f"{existing}.*existing file, not a directory"):
        verify([ARCH_A], _config(tmp_path, tiny_config, out_dir=str(existing)))
    not_parquet = tmp_path / "t.parquet"
    not_parquet.write_text("x\n")
    with pytest.raises(DataError, match=f"{not_parquet}.*not a readable parquet"):
        verify([ARCH_A], _config(tmp_path, tiny_config, append_to=str(not_parquet)))
    with pytest.raises(DataError, match=r"name it \*\.parquet"):
        verify([ARCH_A], _config(tmp_path, tiny_config, append_to=str(tmp_path / "new.csv")))
    with pytest.raises(SurrogateNASError, match="space must be 'nb201'"):
        verify([ARCH_A], _config(tmp_path, tiny_config, space="nas-bench-graph"))
    with pytest.raises(SurrogateNASError, match=r"verify config: seeds: repeats a seed, got \(1, 1\)"):
        verify([ARCH_A], _config(tmp_path, tiny_config, seeds=(1, 1)))
    with pytest.raises(SurrogateNASError, match="bad options"):
        verify([ARCH_A], _config(tmp_path, tiny_config, backend_options={"address": "auto"}))
    assert existing.read_text() == "keep\n" and not (tmp_path / "out").exists()


def test_unset_sizes_follow_the_dataset_recipe(tmp_path):
    from surrogate_nas.training import TrainConfig

    cfg = VerifyConfig(dataset="digits", train=TrainConfig(epochs=1, progress=False), out_dir=str(tmp_path)).validate()
    assert (cfg.train.C, cfg.train.N, cfg.train.batch_size, cfg.train.num_threads) == (8, 1, 64, 1)
    job = make_job(ARCH_A, "digits", TrainConfig(epochs=1, progress=False), tmp_path)
    assert job.config.C == 8 and job.key == make_job(ARCH_A, "digits", cfg.train, tmp_path).key


POOL_FIRST = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
CONV_FIRST = "|nor_conv_1x1~0|+|avg_pool_3x3~0|skip_connect~1|+|avg_pool_3x3~0|skip_connect~1|skip_connect~2|"


def test_isomorphic_candidates_train_once_but_keep_their_own_params_and_flops(tmp_path, tiny_config):
    """A class is trained once (one function: one accuracy); params/FLOPs belong to each string's own network,
    and the timing measured on the trained string is no record of the other one."""
    from surrogate_nas.networks import build_network, count_flops, count_parameters
    from surrogate_nas.training.data import load_dataset

    cfg = tiny_config.replace(epochs=1)
    res = verify([POOL_FIRST, CONV_FIRST], _config(tmp_path, cfg))
    assert (res["status"] == "ok").all() and res["key"].nunique() == 1  # one training
    assert res["test_acc"].iloc[0] == res["test_acc"].iloc[1]
    data = load_dataset("digits")
    for arch, p, f in zip(res["arch"], res["params_m"], res["flops_m"]):
        net = build_network(arch, data.num_classes, C=cfg.C, N=cfg.N, in_channels=data.in_channels)
        assert p == pytest.approx(count_parameters(net) / 1e6, abs=0) and f == pytest.approx(count_flops(net, data.image_shape) / 1e6, abs=0)
    assert res["params_m"].iloc[0] != res["params_m"].iloc[1]
    assert res["train_seconds"].iloc[0] > 0 and pd.isna(res["train_seconds"].iloc[1])
    records = BenchmarkTable.read_parquet(tmp_path / "out" / "records.parquet")
    assert set(records.series("digits", "params").index) == {POOL_FIRST, CONV_FIRST}
    assert set(records.series("digits", "train_seconds").index) == {POOL_FIRST}
    ev = TrainingEvaluator("digits", train_config=cfg, work_dir=tmp_path / "out" / "jobs")
    a, b = ev.evaluate([POOL_FIRST, CONV_FIRST])  # cached: no training
    assert a["value"] == b["value"] and a["params"] == res["params_m"].iloc[0] and b["params"] == res["params_m"].iloc[1]
