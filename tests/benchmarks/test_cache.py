import hashlib

import pytest

from surrogate_nas.benchmarks import cache
from surrogate_nas.errors import ChecksumError, DataError

from ..conftest import NB201_CSV


def test_default_cache_location_and_override(monkeypatch, tmp_path):
    monkeypatch.delenv("SURROGATE_NAS_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.data_dir() == tmp_path / "surrogate_nas"
    monkeypatch.setenv("SURROGATE_NAS_DATA", "/somewhere")
    assert str(cache.data_dir()) == "/somewhere"


def test_fetch_verifies_sha_and_writes_atomically(data_dir):
    # a local file:// URL stands in for the public URL: no network in tests
    dest = cache.fetch("nb201", url=NB201_CSV.as_uri())
    assert dest == data_dir / "nb201" / "nats_bench.csv"
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == cache.REMOTE_FILES["nb201"].sha256
    # a second fetch keeps the valid file without downloading
    assert cache.fetch("nb201", url="file:///does/not/exist") == dest


def test_sha_mismatch_leaves_nothing_behind(data_dir, tmp_path):
    fake = tmp_path / "fake.csv"
    fake.write_text("not the benchmark\n")
    with pytest.raises(ChecksumError, match="expected cb5d777e"):
        cache.fetch("nb201", url=fake.as_uri())
    target = data_dir / "nb201"
    assert not target.exists() or list(target.iterdir()) == []


def test_fetch_errors(data_dir):
    with pytest.raises(DataError, match="unknown data set 'nb301'"):
        cache.fetch("nb301")
    with pytest.raises(DataError, match="could not download"):
        cache.fetch("nb201", url="file:///does/not/exist.csv")
    assert not (data_dir / "nb201" / "nats_bench.csv").exists()
    for bad in ("not a url", "ftp://example.org/x.csv", "/tmp/x.csv"):
        with pytest.raises(DataError, match="is not a URL"):
            cache.fetch("nb201", url=bad)
    with pytest.raises(DataError, match="could not download"):
        cache.fetch("nb201", url="http://localhost:99999/x.csv")  # a bad port: ValueError inside urllib
    assert not (data_dir / "nb201").exists() or list((data_dir / "nb201").iterdir()) == []


def test_corrupt_cached_file_is_replaced_on_fetch(data_dir):
    dest = data_dir / "nb201" / "nats_bench.csv"
    dest.parent.mkdir(parents=True)
    dest.write_text("garbage")
    cache.fetch("nb201", url=NB201_CSV.as_uri())
    cache.verify("nb201")


def test_a_directory_in_place_of_the_cached_file_is_named(data_dir):
    (data_dir / "nb201" / "nats_bench.csv").mkdir(parents=True)
    with pytest.raises(DataError, match="nats_bench.csv is a directory, expected the nb201 file"):
        cache.verify("nb201")


def test_a_bad_url_is_refused_even_when_a_valid_copy_is_cached(data_dir):
    """A valid cached copy makes fetch return early, but a bad --url is still named."""
    assert cache.fetch("nb201", url=NB201_CSV.as_uri()) == data_dir / "nb201" / "nats_bench.csv"
    assert cache.fetch("nb201") == data_dir / "nb201" / "nats_bench.csv"
    with pytest.raises(DataError, match="'not a url' is not a URL"):
        cache.fetch("nb201", url="not a url")


def test_lookup_order_env_dir_then_user_cache_then_the_repo_copy(data_dir, tmp_path, monkeypatch):
    """$SURROGATE_NAS_DATA, then the user cache, then data/nb201/nats_bench.csv.xz; each checked by sha256."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.locate("nb201") == cache.REPO_DATA / "nb201" / "nats_bench.csv.xz"
    data, where = cache.read_verified("nb201")
    assert where.suffix == ".xz" and data == NB201_CSV.read_bytes()
    user = tmp_path / "xdg" / "surrogate_nas" / "nb201" / "nats_bench.csv"
    user.parent.mkdir(parents=True)
    user.write_bytes(data)
    assert cache.locate("nb201") == user
    env = data_dir / "nb201" / "nats_bench.csv"
    env.parent.mkdir(parents=True)
    env.write_bytes(data[:-10])  # a damaged copy where the user pointed: refused, not skipped
    assert cache.locate("nb201") == env
    with pytest.raises(DataError, match=r"sha256 .* expected cb5d777e.*data fetch nb201 --force"):
        cache.read_verified("nb201")


def test_a_damaged_repo_copy_is_refused(tmp_path, monkeypatch):
    import lzma

    bad = tmp_path / "repo-data"
    (bad / "nb201").mkdir(parents=True)
    (bad / "nb201" / "nats_bench.csv.xz").write_bytes(lzma.compress(NB201_CSV.read_bytes()[:-1]))
    monkeypatch.setattr(cache, "REPO_DATA", bad)
    with pytest.raises(DataError, match=r"nats_bench.csv.xz holds data with sha256 .*git checkout -- data/"):
        cache.read_verified("nb201")
    (bad / "nb201" / "nats_bench.csv.xz").write_bytes(b"not xz")
    with pytest.raises(DataError, match="cannot read"):
        cache.read_verified("nb201")
    (bad / "nb201" / "nats_bench.csv.xz").unlink()
    with pytest.raises(DataError, match="no copy found .*data fetch nb201"):
        cache.locate("nb201")
