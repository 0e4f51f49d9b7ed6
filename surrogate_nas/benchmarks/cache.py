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
from ..io import atomic_path, atomic_write_bytes, fingerprint

ENV_VAR = "SURROGATE_NAS_DATA"
#: The project's own ``data/`` folder (present in a clone and an editable install): compressed copies of the
#: public records, so that a clone in an empty folder is self-contained. See data/README.md.
REPO_DATA = Path(__file__).resolve().parents[2] / "data"


@dataclass(frozen=True)
class RemoteFile:
    """A public benchmark file: where to get it, its sha256, where it goes under the data dir."""

    name: str
    sha256: str
    relpath: str
    license: str
    description: str
    url: str = ""  # empty: made by this project or not downloadable (``no_url`` says why)
    bundled: str | None = None  # xz-compressed copy under the repo's data/ (sha256 is of the decompressed bytes)
    #: Why ``data fetch`` cannot download it (a file without ``url``): shown with the refusal.
    no_url: str = ""


def _manifest() -> dict[str, RemoteFile]:
    """The data sets ``data fetch`` knows, from the package's ``data_files.yaml`` (name -> RemoteFile)."""
    import yaml

    entries = yaml.safe_load(Path(__file__).with_name("data_files.yaml").read_text(encoding="utf-8"))
    return {d["name"]: RemoteFile(**d) for d in entries}


#: The data sets ``data fetch`` knows (the manifest ``data_files.yaml`` beside this module).
REMOTE_FILES: dict[str, RemoteFile] = _manifest()


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/surrogate_nas`` (default ``~/.cache/surrogate_nas``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "surrogate_nas"


def config_store_path(folder: str, config: dict) -> Path:
    """The default resumable store of one configuration: ``user_cache_dir()/folder/<space>-<hash>.sqlite``, the
    hash over the configuration (JSON, sorted keys), so another configuration gets another store."""
    return user_cache_dir() / folder / f"{config['space']}-{fingerprint(config)[:12]}.sqlite"


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
