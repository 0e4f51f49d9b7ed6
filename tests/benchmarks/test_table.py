import numpy as np
import pandas as pd
import pytest

from surrogate_nas.benchmarks import BenchmarkTable
from surrogate_nas.errors import DataError

A = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"
B = "|skip_connect~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"


def _records(**over):
    base = [
        {"arch": A, "task": "dev1", "metric": "latency", "value": 1.0},
        {"arch": B, "task": "dev1", "metric": "latency", "value": 2.0},
        {"arch": A, "task": "dev2", "metric": "latency", "value": 3.0},
    ]
    base[0].update(over)
    return base


def test_vector_aligns_with_requested_archs(nb201_table):
    sp = nb201_table.space
    archs = sp.enumerate()[:50]
    v = nb201_table.vector("ImageNet16-120", "test_acc", archs)
    assert v.shape == (50,) and np.isfinite(v).all()
    s = nb201_table.series("ImageNet16-120", "test_acc")
    assert v[7] == s[sp.format(archs[7])]
    assert nb201_table.vector("cifar10", "test_acc").max() == pytest.approx(94.37333, abs=1e-4)


def test_parquet_roundtrip_keeps_space_and_values(tmp_path, nbg_table):
    t = BenchmarkTable.from_records("nb201", _records())
    p = tmp_path / "t.parquet"
    t.to_parquet(p)
    back = BenchmarkTable.read_parquet(p)
    assert back.space.name == "nb201" and back.tasks == ["dev1", "dev2"]
    pd.testing.assert_frame_equal(back.frame, t.frame)
    assert [x.name for x in tmp_path.iterdir()] == ["t.parquet"]


def test_missing_record_is_an_error_naming_the_arch():
    t = BenchmarkTable.from_records("nb201", _records())
    with pytest.raises(DataError, match="no 'latency' record on task 'dev2'"):
        t.vector("dev2", "latency", [A, B])
    v = t.vector("dev2", "latency", [A, B], missing="nan")
    assert v[0] == 3.0 and np.isnan(v[1])


def test_isomorphic_arch_finds_a_function_level_record_by_canonical_key():
    twin = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"  # isomorphic to A
    t = BenchmarkTable.from_records("nb201", [dict(r, metric="test_acc") for r in _records()])
    assert t.space.canonical(t.space.parse(twin)) == t.space.canonical(t.space.parse(A)) and twin != A
    assert t.vector("dev1", "test_acc", [twin])[0] == 1.0  # same function: the class's record stands in


def test_a_hardware_metric_is_looked_up_per_string_only():
    twin = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"  # isomorphic to A
    t = BenchmarkTable.from_records("nb201", _records())
    assert np.isnan(t.vector("dev1", "latency", [twin], missing="nan")[0])  # another network: no record
    with pytest.raises(DataError, match="no 'latency' record on task 'dev1' for 1 architecture.*looked up by the "
                                        "string measured"):
        t.vector("dev1", "latency", [A, twin])
    # with its own record each string keeps its own value
    t = BenchmarkTable.from_records("nb201", _records() + [{"arch": twin, "task": "dev1", "metric": "latency",
                                                            "value": 7.0}])
    assert t.vector("dev1", "latency", [A, twin]).tolist() == [1.0, 7.0]


def test_bad_records_give_one_clear_error():
    with pytest.raises(DataError, match="NaN/inf value"):
        BenchmarkTable.from_records("nb201", _records(value=float("nan")))
    with pytest.raises(DataError, match="data row 1: nb201: unknown op 'conv'"):
        BenchmarkTable.from_records("nb201", _records(arch=A.replace("avg_pool_3x3", "conv")))
    with pytest.raises(DataError, match="conflicting values for arch"):
        BenchmarkTable.from_records("nb201", _records() + [{"arch": A, "task": "dev1", "metric": "latency", "value": 9.0}])
    # the same record twice is harmless; distinct seeds are kept
    t = BenchmarkTable.from_records("nb201", _records() + [dict(_records()[0])])
    assert len(t) == 3
    t = BenchmarkTable.from_records("nb201", [dict(r, seed=i) for i, r in enumerate(_records())])
    assert len(t) == 3
    with pytest.raises(DataError, match="missing column"):
        BenchmarkTable.from_records("nb201", [{"arch": A, "task": "x", "value": 1.0}])
    with pytest.raises(DataError, match="unexpected column"):
        BenchmarkTable.from_records("nb201", _records(color="red"))
    with pytest.raises(DataError, match="unknown task 'dev9'"):
        BenchmarkTable.from_records("nb201", _records()).vector("dev9", "latency")


def test_concat_refuses_other_space(nbg_table):
    t = BenchmarkTable.from_records("nb201", _records())
    with pytest.raises(DataError, match="spaces 'nb201' and 'nas-bench-graph'"):
        t.concat(nbg_table)


def test_read_parquet_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        BenchmarkTable.read_parquet(tmp_path / "nope.parquet")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match="not a readable parquet"):
        BenchmarkTable.read_parquet(bad)
    plain = tmp_path / "plain.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(plain)
    with pytest.raises(DataError, match="not a surrogate_nas benchmark table"):
        BenchmarkTable.read_parquet(plain)


def test_fidelity_picks_highest_and_seeds_are_averaged():
    recs = [
        {"arch": A, "task": "t", "metric": "acc", "value": 10.0, "fidelity": 12, "seed": 0},
        {"arch": A, "task": "t", "metric": "acc", "value": 50.0, "fidelity": 200, "seed": 0},
        {"arch": A, "task": "t", "metric": "acc", "value": 70.0, "fidelity": 200, "seed": 1},
    ]
    t = BenchmarkTable.from_records("nb201", recs)
    assert t.vector("t", "acc", [A])[0] == 60.0


@pytest.mark.parametrize("col, value", [("task", None), ("task", np.nan), ("metric", ""), ("metric", "  "), ("arch", None)])
def test_records_with_an_empty_task_metric_or_arch_are_refused(col, value):
    # an empty task once went into an imported table and broke `data list` with a TypeError
    with pytest.raises(DataError, match=f"empty {col!r}"):
        BenchmarkTable("nb201", pd.DataFrame(_records(**{col: value})).assign(key="k"))


def test_damaged_metadata_or_records_in_a_stored_table_are_a_data_error(tmp_path):
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    t = BenchmarkTable.from_records("nb201", _records())
    t.to_parquet(tmp_path / "t.parquet")
    raw = pq.read_table(tmp_path / "t.parquet")
    pq.write_table(raw.replace_schema_metadata({b"surrogate_nas": b"{not json"}), tmp_path / "m.parquet")
    with pytest.raises(DataError, match="metadata is damaged"):
        BenchmarkTable.read_parquet(tmp_path / "m.parquet")
    frame = raw.to_pandas()
    frame.loc[0, "task"] = None
    bad = pa.Table.from_pandas(frame, preserve_index=False)
    meta = {b"surrogate_nas": json.dumps({"space": "nb201", "source": "x"}).encode()}
    pq.write_table(bad.replace_schema_metadata(meta), tmp_path / "n.parquet")
    with pytest.raises(DataError, match="empty 'task'"):
        BenchmarkTable.read_parquet(tmp_path / "n.parquet")


def test_archs_are_read_once_per_task_and_metric_parsed_once_and_handed_out_as_a_new_list(nb201_table):
    first = nb201_table.archs("cifar10", "test_acc")
    assert len(first) == 15625 and len(nb201_table.archs("cifar10", "valid_acc@12")) == 15625
    first.pop()
    again = nb201_table.archs("cifar10", "test_acc")
    assert len(again) == 15625 and again is not first and again[:100] == first[:100]
    strings = nb201_table.arch_strings("cifar10", "test_acc")
    assert [nb201_table.space.format(a) for a in again[:100]] == strings[:100]
    assert nb201_table.parse(strings[5:8]) == again[5:8] and nb201_table.parse(strings[5:6])[0] is again[5]
    with pytest.raises(DataError, match="nope"):
        nb201_table.archs("nope")
