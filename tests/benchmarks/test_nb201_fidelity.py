"""NB-201's two fidelities: the 200-epoch test accuracy (nats_bench.csv) and the 12-epoch validation and test
accuracy (nb201_hp12_valid_test.csv), as records of one table; metric specs NAME@FIDELITY."""

import hashlib
import io
import lzma

import numpy as np
import pandas as pd
import pytest

from surrogate_nas.benchmarks import cache, load_benchmark
from surrogate_nas.benchmarks.readers import NB201_CSV_COLUMNS, read_nb201_csv
from surrogate_nas.errors import ChecksumError, DataError

from ..conftest import NB201_CSV

HP12 = cache.REPO_DATA / "nb201" / "nb201_hp12_valid_test.csv.xz"


@pytest.fixture(scope="module")
def hp12_frame():
    data, _ = cache.read_verified("nb201-hp12")
    return pd.read_csv(io.BytesIO(data))


def test_the_shipped_12_epoch_file_is_found_and_its_sha256_checked():
    assert cache.locate("nb201-hp12") == HP12
    data, where = cache.read_verified("nb201-hp12")
    assert where == HP12
    assert hashlib.sha256(data).hexdigest() == "dd03f9c5ffc3ad6fcc7abeae23c0844d840f0a65d243b01926dcd83ca5c93999"
    assert data.startswith(b"arch,cellstr,cifar10-test,cifar10-val,")


def test_a_damaged_12_epoch_copy_is_refused_with_the_fix(tmp_path, monkeypatch, data_dir):
    data, _ = cache.read_verified("nb201-hp12")
    bad = tmp_path / "repo-data"
    (bad / "nb201").mkdir(parents=True)
    (bad / "nb201" / "nats_bench.csv.xz").symlink_to(cache.REPO_DATA / "nb201" / "nats_bench.csv.xz")
    (bad / "nb201" / "nb201_hp12_valid_test.csv.xz").write_bytes(lzma.compress(data[:-1]))
    monkeypatch.setattr(cache, "REPO_DATA", bad)
    with pytest.raises(ChecksumError, match=r"nb201_hp12_valid_test.csv.xz holds data with sha256 .*expected "
                                            r"dd03f9c5.*git checkout -- data/"):
        load_benchmark("nb201")
    (bad / "nb201" / "nb201_hp12_valid_test.csv.xz").unlink()
    with pytest.raises(DataError, match=r"nb201-hp12: no copy found .*git checkout -- data/"):
        load_benchmark("nb201")
    # a copy where the user points ($SURROGATE_NAS_DATA) is read instead, and checked the same way
    env = data_dir / "nb201" / "nb201_hp12_valid_test.csv"
    env.parent.mkdir(parents=True)
    env.write_bytes(data[:-10])
    with pytest.raises(ChecksumError, match=r"nb201_hp12_valid_test.csv holds data .*remove it .* or replace it"):
        load_benchmark("nb201")
    env.write_bytes(data)
    assert load_benchmark("nb201").fidelities() == [12.0, 200.0]


def test_there_is_nothing_to_fetch_for_the_12_epoch_file(data_dir):
    """Its public source is a pickle: no download is offered (the shipped CSV is the route)."""
    with pytest.raises(DataError, match="shipped in the repo's data/nb201/nb201_hp12_valid_test.csv.xz; there is "
                                        "nothing to download .*pickle"):
        cache.fetch("nb201-hp12")
    assert not (data_dir / "nb201").exists()


def test_records_of_fidelity_12_and_200_coexist(nb201_table, hp12_frame):
    t = nb201_table
    assert t.fidelities() == [12.0, 200.0]
    assert t.metrics() == ["test_acc", "valid_acc"]
    assert t.metrics("cifar10", fidelities=True) == ["test_acc@12", "test_acc@200", "valid_acc@12"]
    assert len(t) == 15625 * 9
    dump = pd.read_csv(NB201_CSV)
    strings = [t.space.format(t.space.parse(s)) for s in dump["ArchitectureString"]]
    for col, task in NB201_CSV_COLUMNS.items():
        # a bare name keeps reading the highest fidelity: the 200-epoch column, exactly as before
        assert np.array_equal(t.vector(task, "test_acc", strings), dump[col].to_numpy(dtype=float))
        assert np.array_equal(t.vector(task, "test_acc@200", strings), dump[col].to_numpy(dtype=float))
    for task, short in (("cifar10", "cifar10"), ("cifar100", "cifar100"), ("ImageNet16-120", "imagenet")):
        assert np.array_equal(t.vector(task, "valid_acc@12", strings), hp12_frame[f"{short}-val"].to_numpy(dtype=float))
        assert np.array_equal(t.vector(task, "valid_acc", strings), hp12_frame[f"{short}-val"].to_numpy(dtype=float))
        assert np.array_equal(t.vector(task, "test_acc@12", strings), hp12_frame[f"{short}-test"].to_numpy(dtype=float))
    assert t.series("cifar10", "test_acc").equals(t.series("cifar10", "test_acc@200"))
    assert len(t.archs("cifar10", "valid_acc@12")) == 15625


def test_the_12_epoch_records_leave_every_200_epoch_reader_unchanged(nb201_table):
    """The table without the 12-epoch file is the table before it existed: test_acc is the same vector."""
    only200 = read_nb201_csv(hp12=False)
    assert only200.metrics() == ["test_acc"] and only200.fidelities() == [200.0]
    archs = nb201_table.space.enumerate()
    for task in nb201_table.tasks:
        assert np.array_equal(nb201_table.vector(task, "test_acc", archs), only200.vector(task, "test_acc", archs))


def test_an_unknown_fidelity_is_one_clear_error(nb201_table):
    with pytest.raises(DataError, match=r"metric 'valid_acc@200': no 'valid_acc' records of fidelity 200 for task "
                                        r"'cifar100'; fidelities there: 12$"):
        nb201_table.series("cifar100", "valid_acc@200")
    with pytest.raises(DataError, match=r"metric 'test_acc@50'.*fidelities there: 12, 200"):
        nb201_table.vector("cifar10", "test_acc@50")
    with pytest.raises(DataError, match=r"expected NAME or NAME@FIDELITY"):
        nb201_table.series("cifar10", "test_acc@twelve")
    with pytest.raises(DataError, match=r"no metric 'latency' for task 'cifar10'"):
        nb201_table.series("cifar10", "latency@12")
    assert nb201_table.has_metric("cifar10", "valid_acc@12") and not nb201_table.has_metric("cifar10", "valid_acc@200")
    assert not nb201_table.has_metric("nope", "valid_acc@12")


def test_a_12_epoch_file_out_of_row_order_is_refused_naming_the_row(tmp_path, hp12_frame):
    p = tmp_path / "hp12.csv"
    swapped = hp12_frame.copy()
    swapped.loc[[3, 4]] = swapped.loc[[4, 3]].to_numpy()
    swapped.to_csv(p, index=False)
    with pytest.raises(DataError, match=r"hp12.csv: data row 4: cell .* is not the cell of row 4 of the 200-epoch"):
        read_nb201_csv(hp12=p)
    hp12_frame.drop(columns=["imagenet-val"]).to_csv(p, index=False)
    with pytest.raises(DataError, match="missing column.*imagenet-val"):
        read_nb201_csv(hp12=p)
    hp12_frame.head(10).to_csv(p, index=False)
    with pytest.raises(DataError, match="expected 15,625 rows .*found 10"):
        read_nb201_csv(hp12=p)
    # a well-formed file passed by path is read (its values, not the shipped ones)
    hp12_frame.assign(**{"cifar10-val": 1.0}).to_csv(p, index=False)
    assert set(read_nb201_csv(hp12=p).series("cifar10", "valid_acc@12")) == {1.0}


def test_a_value_of_the_12_epoch_file_that_is_not_a_number_is_refused_naming_its_row(tmp_path, hp12_frame):
    p = tmp_path / "hp12.csv"
    bad = hp12_frame.astype({"cifar10-val": object})
    bad.loc[5, "cifar10-val"] = "oops"
    bad.to_csv(p, index=False)
    with pytest.raises(DataError, match=r"hp12.csv: column cifar10-val, data row 6: value 'oops' is not a number$"):
        read_nb201_csv(hp12=p)
