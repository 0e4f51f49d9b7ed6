import re
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
from nas_bench_graph import light_read

from surrogate_nas.benchmarks import import_table, load_benchmark
from surrogate_nas.benchmarks.kinds import RepeatedMeasurementsWarning
from surrogate_nas.benchmarks.readers import read_nb201_csv, read_table
from surrogate_nas.errors import ChecksumError, DataError

from ..conftest import NB201_CSV


def test_nb201_csv_reader(nb201_table):
    assert nb201_table.tasks == ["ImageNet16-120", "cifar10", "cifar100"]
    assert nb201_table.metrics() == ["test_acc", "valid_acc"]  # test_acc at 200 and 12 epochs, valid_acc at 12
    best = nb201_table.series("ImageNet16-120", "test_acc").max()
    assert best == pytest.approx(47.3111, abs=1e-3)
    assert nb201_table.frame["arch"].nunique() == 15625


def test_nas_bench_graph_reader_matches_package(nbg_table):
    assert len(nbg_table.tasks) == 8
    assert nbg_table.metrics() == ["latency", "params", "test_perf", "valid_perf"]
    sp = nbg_table.space
    raw = light_read("pubmed")
    archs = sp.enumerate()[::997]
    v = nbg_table.vector("pubmed", "valid_perf", archs)
    assert np.allclose(v, [raw[int(sp.canonical(a))]["valid_perf"] for a in archs])
    p = load_benchmark("nas-bench-graph-proteins")
    assert p.tasks == ["proteins"] and p.frame["arch"].nunique() == 2021


def test_nb201_csv_rejects_bad_files(tmp_path):
    df = pd.read_csv(NB201_CSV)
    p = tmp_path / "x.csv"
    df.drop(columns=["UniqueString"]).to_csv(p, index=False)
    with pytest.raises(DataError, match="missing column.*UniqueString"):
        read_nb201_csv(p)
    df.assign(Extra=1).to_csv(p, index=False)
    with pytest.raises(DataError, match="unexpected column.*Extra"):
        read_nb201_csv(p)
    df.head(100).to_csv(p, index=False)
    with pytest.raises(DataError, match="found 100"):
        read_nb201_csv(p)
    d = df.astype({"CIFAR10TestAccuracy200Epochs": object})
    d.loc[5, "CIFAR10TestAccuracy200Epochs"] = "oops"
    d.to_csv(p, index=False)
    with pytest.raises(DataError, match="CIFAR10TestAccuracy200Epochs, data row 6: value 'oops'"):
        read_nb201_csv(p)


def test_truncated_cached_file_fails_its_checksum(data_dir):
    dest = data_dir / "nb201" / "nats_bench.csv"
    dest.parent.mkdir(parents=True)
    dest.write_bytes(NB201_CSV.read_bytes()[:100_000])
    with pytest.raises(ChecksumError, match="truncated or corrupt"):
        load_benchmark("nb201")
    shutil.copy(NB201_CSV, dest)
    assert load_benchmark("nb201").frame["arch"].nunique() == 15625


def test_without_any_copy_the_error_says_how_to_get_it(data_dir, tmp_path, monkeypatch):
    """No data dir copy, no user cache, no repo data/ (e.g. an installed wheel): one error naming the fix."""
    from surrogate_nas.benchmarks import cache

    monkeypatch.setattr(cache, "REPO_DATA", tmp_path / "no-repo-data")
    with pytest.raises(DataError, match="no copy found .*data fetch nb201"):
        load_benchmark("nb201")


def test_a_fresh_clone_reads_nb201_from_its_own_data_folder(data_dir):
    t = load_benchmark("nb201")
    assert t.source.endswith("data/nb201/nats_bench.csv.xz") and len(t) == 3 * 15625 * 3  # 200 + 2 x 12 epochs
    assert t.series("cifar10", "test_acc").max() == pytest.approx(94.373, abs=1e-3)


NB = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"
NB2 = "|skip_connect~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"
TWIN = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"  # isomorphic to NB (one canonical key)
ESC, ESC_TWIN = map(re.escape, (NB, TWIN))


def test_user_csv_wide_and_long(tmp_path):
    wide = tmp_path / "lat.csv"
    pd.DataFrame({"arch": [NB, NB2], "pixel7": [3.1, 4.2], "jetson": [1.0, 2.0]}).to_csv(wide, index=False)
    t = read_table(wide, "nb201", metric="latency_ms")
    assert t.tasks == ["jetson", "pixel7"] and t.metrics() == ["latency_ms"]
    assert t.vector("pixel7", "latency_ms", [NB2])[0] == 4.2
    long = tmp_path / "long.csv"
    pd.DataFrame({"arch": [NB, NB2], "task": "svhn", "metric": "acc", "value": [90.0, 80.0], "seed": [0, 0]}).to_csv(long, index=False)
    t = read_table(long, "nb201")
    assert t.vector("svhn", "acc", [NB])[0] == 90.0
    pq = tmp_path / "long.parquet"
    pd.read_csv(long).to_parquet(pq)
    assert len(read_table(pq, "nb201")) == 2


@pytest.mark.parametrize(
    "frame, kwargs, fragment",
    [
        ({"architecture": [NB], "dev": [1.0]}, {"metric": "m"}, "no architecture column 'arch'"),
        ({"arch": [NB], "dev": [1.0]}, {}, "say which metric"),
        ({"arch": [NB], "dev": ["fast"]}, {"metric": "m"}, "column 'dev', data row 1: 'fast' is not a number"),
        ({"arch": [NB, NB2], "dev": [1.0, None]}, {"metric": "m"}, "column 'dev', data row 2: the value is missing"),
        ({"arch": [NB], "task": ["t"], "value": [1.0]}, {}, "found only task, value"),
        ({"arch": [NB], "task": ["t"], "metric": ["m"], "value": [1.0], "note": ["x"]}, {}, "unexpected column.*note"),
        ({"arch": ["|bad|"], "dev": [1.0]}, {"metric": "m"}, "data row 1, column arch: nb201"),
        ({"arch": [NB, NB], "dev": [1.0, 2.0]}, {"metric": "m"}, f"data rows 1 and 2: architecture '{ESC}' appears twice with different values 1.0 and 2.0"),
        ({"arch": [NB, NB2], "task": ["t", None], "metric": ["m", "m"], "value": [1.0, 2.0]}, {}, "data row 2: empty 'task' cell"),
        ({"arch": [NB, NB2], "task": ["t", "t"], "metric": ["m", " "], "value": [1.0, 2.0]}, {}, "data row 2: empty 'metric' cell"),
        ({"arch": [NB, None], "dev": [1.0, 2.0]}, {"metric": "m"}, "data row 2: empty 'arch' cell"),
        ({"arch": [NB], "dev": [True]}, {"metric": "m"}, "column 'dev', data row 1: True is a boolean, not a number"),
        ({"arch": [NB], "task": ["t"], "metric": ["m"], "value": [False]}, {}, "column 'value', data row 1: False is a boolean"),
        ({"arch": [NB], "dev": [float("inf")]}, {"metric": "m"}, "column 'dev', data row 1: inf is not finite"),
        ({"arch": [NB], "task": ["t"], "metric": ["m"], "value": [1.0], "seed": ["x"]}, {}, "column 'seed', data row 1: 'x' is not a number"),
        ({"cell": [NB], "arch": ["x"], "dev": [1.0]}, {"metric": "m", "arch_column": "cell"}, "has a column 'arch' besides"),
        ({"arch": ["0012:gcn-gat-skip-sage"], "dev": [1.0]}, {"metric": "m"}, "node groups"),
    ],
)
def test_user_csv_bad_input(tmp_path, frame, kwargs, fragment):
    p = tmp_path / "u.csv"
    pd.DataFrame(frame).to_csv(p, index=False)
    with pytest.raises(DataError, match=fragment):
        read_table(p, "nb201", **kwargs)


def test_import_stores_table_and_lists_it(tmp_path, data_dir):
    src = tmp_path / "my-devices.csv"
    pd.DataFrame({"arch": [NB, NB2], "pixel7": [3.1, 4.2]}).to_csv(src, index=False)
    name, dest, _ = import_table(src, "nb201", metric="latency_ms")
    assert name == "my-devices" and dest.is_file()
    assert load_benchmark("my-devices").vector("pixel7", "latency_ms", [NB])[0] == 3.1
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"arch": [NB], "pixel7": ["x"]}).to_csv(bad, index=False)
    with pytest.raises(DataError):
        import_table(bad, "nb201", metric="latency_ms")
    assert sorted(p.name for p in dest.parent.iterdir()) == ["my-devices.parquet"]  # nothing half-written


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("arch,dev\n", "no records \\(only a header\\)"),
        ("arch,task,metric,value\n", "no records"),
        (f"arch,dev,dev\n{NB},1,2\n", "duplicate column name\\(s\\) 'dev'"),  # pandas would rename one dev.1
        (f"arch,,dev\n{NB},1,2\n", "column 2 has no name"),
        (f"arch,dev\n{NB},True\n{NB2},False\n", "'dev', data row 1: True is a boolean"),
        (f"arch,__data_row,dev\n{NB},1,2\n", "column name '__data_row' is reserved"),  # a name used inside
        ("", "cannot parse as CSV"),
    ],
)
def test_user_csv_refuses_what_pandas_would_guess(tmp_path, text, fragment):
    p = tmp_path / "u.csv"
    p.write_text(text)
    with pytest.raises(DataError, match=fragment) as ei:
        read_table(p, "nb201", metric="m")
    assert "\n" not in str(ei.value)


def test_isomorphic_cells_with_different_values_are_accepted(tmp_path):
    """A string is a network: isomorphic strings are two records. Hardware metrics silently (different networks);
    function-level ones with one note (repeated measurements of one function)."""
    p = tmp_path / "u.csv"
    pd.DataFrame({"arch": [NB, TWIN, NB2], "dev": [1.0, 2.0, 3.0]}).to_csv(p, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no note for a hardware metric
        t = read_table(p, "nb201", metric="latency_ms")
    assert t.vector("dev", "latency_ms", [NB, TWIN, NB2]).tolist() == [1.0, 2.0, 3.0]
    with pytest.warns(RepeatedMeasurementsWarning) as rec:
        t = read_table(p, "nb201", metric="acc")
    msg = str(rec[0].message)
    assert len(rec) == 1 and "\n" not in msg
    assert "1 group(s) of isomorphic cells hold different 'acc' values" in msg and "data rows 1 and 2" in msg
    assert "treated as repeated measurements of one function" in msg
    assert t.vector("dev", "acc", [NB, TWIN]).tolist() == [1.0, 2.0]  # each string keeps its own record


def test_long_import_accepts_isomorphic_accuracies_one_ulp_apart(tmp_path):
    """The NB-201 records of isomorphic cells differ in the last digit (float32 means): not a conflict."""
    p = tmp_path / "long.csv"
    p.write_text("arch,task,metric,value\n"
                 f"{NB},cifar10,test_acc,0.8333333320617675\n{TWIN},cifar10,test_acc,0.8333333320617676\n"
                 f"{NB2},cifar10,test_acc,0.5\n")
    with pytest.warns(RepeatedMeasurementsWarning, match="1 group"):
        t = read_table(p, "nb201")
    assert len(t) == 3 and t.vector("cifar10", "test_acc", [TWIN])[0] == 0.8333333320617676
    # the same string twice with different values is still refused, naming both data rows
    p.write_text("arch,task,metric,value\n"
                 f"{NB},cifar10,test_acc,0.8333333320617675\n{NB},cifar10,test_acc,0.8333333320617676\n")
    with pytest.raises(DataError, match=f"data rows 1 and 2: architecture '{ESC}' appears twice with different "
                                        "values 0.8333333320617675 and 0.8333333320617676") as ei:
        read_table(p, "nb201")
    assert "\n" not in str(ei.value)


def test_isomorphic_cells_with_the_same_value_are_fine(tmp_path):
    p = tmp_path / "u.csv"
    pd.DataFrame({"arch": [NB, TWIN], "dev": [1.0, 1.0]}).to_csv(p, index=False)
    assert len(read_table(p, "nb201", metric="m")) == 2
    pd.DataFrame({"arch": [NB, TWIN], "task": "t", "metric": "m", "value": [1.0, 2.0], "seed": [0, 1]}).to_csv(p, index=False)
    assert len(read_table(p, "nb201")) == 2  # distinct seeds


def test_files_that_are_not_tables(tmp_path):
    (tmp_path / "t.parquet").write_text("hello")
    with pytest.raises(DataError, match="t.parquet: not a readable parquet file"):
        read_table(tmp_path / "t.parquet", "nb201", metric="m")
    with pytest.raises(DataError, match="missing.parquet does not exist"):
        read_table(tmp_path / "missing.parquet", "nb201", metric="m")
    with pytest.raises(DataError, match="is a directory, not a table file"):
        read_table(tmp_path, "nb201", metric="m")
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(DataError, match="d.csv is a directory"):
        read_table(tmp_path / "d.csv", "nb201", metric="m")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table([pa.array([NB]), pa.array([1.0]), pa.array([2.0])], names=["arch", "d", "d"]), tmp_path / "dup.parquet")
    with pytest.raises(DataError, match="duplicate column name"):
        read_table(tmp_path / "dup.parquet", "nb201", metric="m")
    pq.write_table(pa.table([pa.array([NB]), pa.array([[1.0, 2.0]])], names=["arch", "d"]), tmp_path / "list.parquet")
    with pytest.raises(DataError, match="column .d. holds list<.*double> values; every cell must be one number"):
        read_table(tmp_path / "list.parquet", "nb201", metric="m")
