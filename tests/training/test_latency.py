"""Latency measurement: settings, the seeded cell sample, the resumable store, and the shipped table."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from surrogate_nas.errors import DataError, SurrogateNASError
from surrogate_nas.spaces import get_space
from surrogate_nas.training import latency
from surrogate_nas.training.latency import Setting, measure, parse_settings, sample_cells

from ..conftest import REPO

SHIPPED = REPO / "data" / "latency" / "nb201_cpu_latency.csv"
CELLS = ["|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
         "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|none~1|skip_connect~2|",
         "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"]
FAST = ["t1-b1-fp32", "t1-b2-bf16-cl"]


def test_setting_names_round_trip_and_bad_names_are_refused():
    assert Setting.parse("t2-b32-bf16-cl") == Setting(2, 32, "bf16", True)
    for name in ("t1-b1-fp32", "t2-b256-fp32", "t1-b32-bf16-cl"):
        assert Setting.parse(name).name == name
    assert [s.name for s in parse_settings("t1-b1-fp32, t1-b32-bf16")] == ["t1-b1-fp32", "t1-b32-bf16"]
    for bad in ("t0-b1-fp32", "t1-b1-fp16", "t1-b1", "t1-b0-fp32", "b1-t1-fp32", "t1-b1-fp32-nhwc"):
        with pytest.raises(SurrogateNASError, match=f"bad latency setting '{bad}'"):
            Setting.parse(bad)
    with pytest.raises(SurrogateNASError, match="t1-b1-fp32 given twice"):
        parse_settings("t1-b1-fp32,t1-b1-fp32")
    with pytest.raises(SurrogateNASError, match="empty setting name"):
        parse_settings("t1-b1-fp32,,t1-b8-fp32")


def test_sample_is_seeded_and_made_of_distinct_canonical_classes():
    space = get_space("nb201")
    a = sample_cells(50, seed=3)
    assert a == sample_cells(50, seed=3) and a != sample_cells(50, seed=4)
    assert len({space.canonical(space.parse(s)) for s in a}) == 50
    for bad in (0, 6467, 2.5, True):
        with pytest.raises(SurrogateNASError, match="sample size must be an integer from 1 to 6466"):
            sample_cells(bad)


def test_measure_writes_positive_finite_ms_per_cell_and_setting(tmp_path):
    out = measure(CELLS, FAST, out=tmp_path / "lat.csv", store=tmp_path / "s.sqlite", repeats=1, warmup=0,
                  progress=False)
    df = pd.read_csv(out)
    assert list(df.columns) == ["arch"] + FAST and df["arch"].tolist() == CELLS
    v = df[FAST].to_numpy()
    assert np.isfinite(v).all() and (v > 0).all()
    rows = sqlite3.connect(tmp_path / "s.sqlite").execute("SELECT COUNT(*), MIN(repeats) FROM latency").fetchone()
    assert rows == (len(CELLS) * len(FAST), 1)


def test_threads_are_restored_after_measuring(tmp_path):
    import torch

    before = torch.get_num_threads()
    measure(CELLS[:1], ["t2-b1-fp32"], out=tmp_path / "l.csv", store=tmp_path / "s.sqlite", repeats=1, warmup=0,
            progress=False)
    assert torch.get_num_threads() == before


def test_a_resumed_run_measures_only_the_missing_pairs(tmp_path, monkeypatch):
    store = tmp_path / "s.sqlite"
    first = pd.read_csv(measure(CELLS[:2], FAST[:1], out=tmp_path / "a.csv", store=store, repeats=1, warmup=0,
                                progress=False))
    calls = []
    real = latency.time_forward

    def counting(net, setting, *a, **k):
        calls.append(setting.name)
        return real(net, setting, *a, **k)

    monkeypatch.setattr(latency, "time_forward", counting)
    again = pd.read_csv(measure(CELLS, FAST, out=tmp_path / "b.csv", store=store, repeats=1, warmup=0,
                                progress=False))
    # cells 1-2 lack only the second setting; cell 3 lacks both
    assert sorted(calls) == sorted([FAST[1], FAST[1], FAST[0], FAST[1]])
    assert again[FAST[0]].iloc[:2].tolist() == first[FAST[0]].tolist()


def test_a_store_of_another_configuration_or_repeats_is_refused(tmp_path):
    store = tmp_path / "s.sqlite"
    measure(CELLS[:1], FAST[:1], out=tmp_path / "a.csv", store=store, repeats=1, warmup=0, progress=False)
    with pytest.raises(DataError, match="holds setting t1-b1-fp32 measured with 1 repeats; this run asks for 2"):
        measure(CELLS[:1], FAST[:1], out=tmp_path / "a.csv", store=store, repeats=2, warmup=0, progress=False)
    with pytest.raises(DataError, match="was made with another configuration"):
        measure(CELLS[:1], FAST[:1], out=tmp_path / "a.csv", store=store, repeats=1, warmup=0, seed=1,
                progress=False)
    (tmp_path / "junk.sqlite").write_text("not sqlite " * 100)
    with pytest.raises(DataError, match="junk.sqlite is not a usable SQLite latency store"):
        measure(CELLS[:1], FAST[:1], out=tmp_path / "a.csv", store=tmp_path / "junk.sqlite", repeats=1,
                progress=False)


def test_bad_arguments_are_refused_before_any_work(tmp_path):
    with pytest.raises(SurrogateNASError, match="repeats must be a positive int"):
        measure(CELLS, FAST, out=tmp_path / "a.csv", store=tmp_path / "s.sqlite", repeats=0)
    with pytest.raises(SurrogateNASError, match="listed twice"):
        measure(CELLS[:1] * 2, FAST, out=tmp_path / "a.csv", store=tmp_path / "s.sqlite")
    with pytest.raises(SurrogateNASError, match="bad latency setting 't1-b1-int8'"):
        measure(CELLS, ["t1-b1-int8"], out=tmp_path / "a.csv", store=tmp_path / "s.sqlite")
    assert not (tmp_path / "a.csv").exists() and not (tmp_path / "s.sqlite").exists()


# ---------------------------------------------------------------------- the shipped table (real records)
@pytest.fixture(scope="module")
def shipped():
    from surrogate_nas.benchmarks.readers import read_table

    return read_table(SHIPPED, "nb201", metric="latency_ms")


def test_shipped_table_has_1000_canonical_cells_and_6_settings(shipped):
    df = pd.read_csv(SHIPPED)
    settings = [c for c in df.columns if c != "arch"]
    assert len(settings) >= 6 and all(Setting.parse(s).name == s for s in settings)
    assert len(df) >= 1000 and shipped.frame["key"].nunique() == len(df)  # distinct canonical classes
    assert df["arch"].tolist() == sample_cells(len(df), seed=0)  # the command's seeded sample, in order
    v = df[settings].to_numpy()
    assert np.isfinite(v).all() and (v > 0).all()


def test_shipped_fp32_batch_32_latency_rises_with_flops(shipped):
    from scipy.stats import spearmanr

    from surrogate_nas.features.table import read_params_flops

    feats, _ = read_params_flops()  # the shipped FLOPs of every string's own network
    df = pd.read_csv(SHIPPED)
    space = get_space("nb201")
    flops = feats.loc[[space.format(space.parse(a)) for a in df["arch"]], "flops"].to_numpy()
    b32 = [c for c in df.columns if c != "arch" and Setting.parse(c).batch == 32 and Setting.parse(c).dtype == "fp32"]
    assert len(b32) >= 2
    rho = {c: spearmanr(flops, df[c]).statistic for c in b32}
    assert all(r > 0.25 for r in rho.values()), rho  # measured 0.33 (contiguous), 0.83 (channels_last)
    # bf16 under autocast is not FLOPs-bound: the convs get fast, the avg-pools do not (data/latency/README.md)
    pools = df["arch"].str.count("avg_pool_3x3")
    assert spearmanr(pools, df["t1-b32-bf16"]).statistic > spearmanr(flops, df["t1-b32-bf16"]).statistic + 0.5


def test_latency_transfer_script_runs_on_the_shipped_table(capsys, tmp_path):
    """A small leave-one-setting-out run, every kind of method: meta checkpoint, registered predictors, FLOPs."""
    from ..conftest import load_experiment

    mod = load_experiment("latency_transfer")
    assert mod.main(["--targets", "t1-b32-bf16", "--seeds", "1", "--iterations", "5", "--out", str(tmp_path),
                     "--methods", "meta,meta/default,meta/default-1+ff,ridge-source,ridge-source+ff,source-transfer,"
                                  "flops,rf-source,meta/default-1:source_weights=least-squares,"
                                  "meta/default-1:kernel=linear"]) == 0
    df = pd.read_csv(tmp_path / "latency_transfer.csv")
    ls = "meta/default-1:source_weights=least-squares"  # its checkpoint meta-trained with that model option
    lin = "meta/default-1:kernel=linear"  # ... and with that MetaConfig option
    assert set(df["method"]) == {"meta", "meta/default", "meta/default-1+ff", "ridge-source", "ridge-source+ff",
                                 "source-transfer", "flops", "rf-source", ls, lin}
    assert (df["n_query"] == 990).all() and df["spearman_rho"].notna().all()
    rho = df.set_index("method")["spearman_rho"]
    assert rho["flops"] < 0.1 < rho["source-transfer"]  # bf16 latency is not FLOPs-bound; the other settings know
    assert rho["ridge-source+ff"] != rho["ridge-source"]  # the +ff twin reads params and FLOPs too
    assert df.set_index("method").loc["meta/default-1+ff", "pretrain_seconds"] > 0  # its own checkpoint
    from surrogate_nas.meta.defaults import DEFAULT_MEMBERS

    assert df.set_index("method")["members"].to_dict() == {  # the default as pretrain builds it: an ensemble
        "meta": 1, "meta/default": DEFAULT_MEMBERS, "meta/default-1+ff": 1, "ridge-source": 0, "ridge-source+ff": 0,
        "source-transfer": 0, "flops": 0, "rf-source": 0, ls: 1, lin: 1}
    assert rho[lin] != rho["meta/default"]  # its own checkpoint, not the default's
    vt = df.set_index("method")["val_tau"]  # the checkpoints' meta-validation tau, none for a baseline
    assert vt[["meta", "meta/default", ls, lin]].between(-1, 1).all() and vt[["ridge-source", "flops"]].isna().all()
    assert "| `t1-b32-bf16` |" in (tmp_path / "latency_transfer.md").read_text()
    with pytest.raises(SystemExit):
        mod.main(["--methods", "meta,nope", "--out", str(tmp_path)])
    assert "unknown method 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        mod.main(["--methods", "meta/default:source_weights=nope", "--out", str(tmp_path)])
    assert "method 'meta/default:source_weights=nope': model config: source_weights" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        mod.main(["--methods", "meta/default:kernel=nope", "--out", str(tmp_path)])
    assert "method 'meta/default:kernel=nope': " in capsys.readouterr().err


def test_latency_transfer_meta_seeds_pair_the_methods_on_their_checkpoints(capsys, tmp_path):
    """``--meta-seeds``: each first meta seed meta-trains the meta methods afresh (the baselines score the same), and
    ``--reference`` reports each other meta method's difference per meta seed with its standard error."""
    from ..conftest import load_experiment

    mod = load_experiment("latency_transfer")
    ref, var = "meta/default-1", "meta/default-1@rank_residual=0.5"
    assert mod.main(["--targets", "t1-b32-fp32", "--seeds", "1", "--iterations", "5", "--out", str(tmp_path),
                     "--methods", f"{ref},{var},ridge-source", "--meta-seeds", "0,3", "--reference", ref]) == 0
    df = pd.read_csv(tmp_path / "latency_transfer.csv")
    rho = df.set_index(["method", "meta_seed"])["spearman_rho"]
    assert len(df) == 6 and rho["ridge-source", 0] == rho["ridge-source", 3]
    assert rho[ref, 0] != rho[ref, 3]  # checkpoints of another meta seed
    diff = [rho[var, s] - rho[ref, s] for s in (0, 3)]
    md = (tmp_path / "latency_transfer.md").read_text()
    assert f"Difference from `{ref}` per meta seed" in md
    header = next(x for x in md.splitlines() if x.startswith("| method") and "mean / se" in x)
    line = next(x for x in md.splitlines() if x.startswith(f"| {var}"))
    cells = dict(zip([c.strip() for c in header.split("|")], [c.strip() for c in line.split("|")]))
    assert min(abs(d) for d in diff) > 0  # the adapt option moves the prediction
    assert float(cells["mean"]) == pytest.approx(np.mean(diff), abs=1e-4)
    assert float(cells["se"]) == pytest.approx(np.std(diff, ddof=1) / np.sqrt(2), abs=1e-4)
    for args, message in ((["--meta-seeds", "0,x"], "--meta-seeds '0,x': expected comma-separated integers"),
                          (["--reference", "meta"], "--reference 'meta' is not one of the methods")):
        with pytest.raises(SystemExit):
            mod.main(["--methods", "ridge-source", "--out", str(tmp_path), *args])
        assert message in capsys.readouterr().err


def test_latency_transfer_meta_trains_as_pretrain_does_by_default(tmp_path):
    """Without ``--iterations`` the meta methods meta-train for ``pretrain``'s iterations (what a user gets)."""
    from surrogate_nas.meta.maml import MetaConfig

    from ..conftest import load_experiment

    mod = load_experiment("latency_transfer")
    assert mod.main(["--targets", "t1-b32-fp32", "--seeds", "1", "--methods", "ridge-source", "--out",
                     str(tmp_path)]) == 0
    md = (tmp_path / "latency_transfer.md").read_text()
    assert f"({MetaConfig().iterations} iterations," in md and MetaConfig().iterations == 400


def test_isomorphic_strings_are_two_networks_and_both_are_measured(tmp_path):
    pool_first = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    conv_first = "|nor_conv_1x1~0|+|avg_pool_3x3~0|skip_connect~1|+|avg_pool_3x3~0|skip_connect~1|skip_connect~2|"
    out = measure([pool_first, conv_first], FAST[:1], out=tmp_path / "a.csv", store=tmp_path / "s.sqlite",
                  repeats=1, warmup=0, progress=False)
    df = pd.read_csv(out)
    assert df["arch"].tolist() == [pool_first, conv_first] and (df[FAST[0]] > 0).all()
    with pytest.raises(SurrogateNASError, match=r"archs: '\|avg_pool_3x3~0.*' is listed twice"):
        measure([pool_first, conv_first, pool_first], FAST[:1], out=tmp_path / "b.csv", store=tmp_path / "s.sqlite")


def test_latency_transfer_reads_a_numeric_meta_option_as_a_number():
    """``meta/default:source_dropout=0`` meta-trains with the number 0 (MetaConfig's numbers are strict: the text "0"
    would be refused); a text option stays text, and an out-of-range number is refused naming the method."""
    from ..conftest import load_experiment

    mod = load_experiment("latency_transfer")
    assert mod.method_options("meta/default:source_dropout=0") == ({}, {"source_dropout": 0})
    assert mod.method_options("meta/default:val_fraction=0.25") == ({}, {"val_fraction": 0.25})
    assert mod.method_options("meta/default:kernel=rbf") == ({}, {"kernel": "rbf"})
    both = "meta/default:source_weights=least-squares:source_shrink=0.1:kernel=rbf"  # several options
    assert mod.method_options(both) == ({"source_weights": "least-squares", "source_shrink": 0.1}, {"kernel": "rbf"})
    assert mod.check_methods([both]) is None
    assert "source_shrink" in mod.check_methods(["meta/default:source_shrink=0.1"])
    assert mod.check_methods(["meta/default:source_dropout=0"]) is None
    assert "source_dropout" in mod.check_methods(["meta/default:source_dropout=1.5"])
    key = mod.checkpoint_key("meta/default:source_dropout=0")
    assert key != mod.checkpoint_key("meta/default")  # its own checkpoints
    assert mod.meta_config(key[0], 1, 0, dict(key[3])).source_dropout == 0.0
