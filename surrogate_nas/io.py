"""Files: atomic writes (a temp file or directory next to the target, fsync, then rename) and the one resumable,
configuration-checked SQLite store (:class:`ConfigStore`).

Files and directories are created with the permissions the user's umask gives (``mkstemp`` and
``mkdtemp`` would leave them 0600/0700).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from .errors import SurrogateNASError, first_line


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed onto ``path``.

    On any exception the temporary file is removed, so ``path`` is never left half-written.
    The file gets mode ``0o666 & ~umask`` like any file the user creates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        os.chmod(tmp_path, 0o666 & ~_umask())
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary directory next to ``path``; on success it becomes ``path`` as a whole.

    The files written into it appear together or not at all. An existing directory at ``path`` is
    replaced (its entries the new directory does not have are carried over); on Linux the two are
    exchanged in one step (``renameat2(RENAME_EXCHANGE)``), elsewhere by two renames.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        for f in tmp.iterdir():
            if f.is_file():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
        if path.is_dir():
            for old in path.iterdir():
                if not (tmp / old.name).exists():
                    (shutil.copytree if old.is_dir() else shutil.copy2)(old, tmp / old.name)
            if not _exchange(tmp, path):
                os.rename(path, f"{tmp}.old")
                os.rename(tmp, path)
                tmp = Path(f"{tmp}.old")
            shutil.rmtree(tmp)  # now the old directory
        else:
            os.rename(tmp, path)  # fails (no damage) when path is a file
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2``); False where that is not available."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    return fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def check_writable(path: str | os.PathLike, what: str = "output", *, directory: bool = False) -> Path:
    """Refuse, before any work, an output path that cannot be written: raise naming it and why.

    ``directory``: the output is a directory (else a file, which must not be an existing directory).
    The nearest existing ancestor (and an existing output directory) is probed by creating a
    temporary file in it: permission bits alone do not tell (root, read-only mounts).
    """
    p = Path(path)
    if directory and p.exists() and not p.is_dir():
        raise SurrogateNASError(f"{what} {p} is an existing file, not a directory")
    if not directory and p.is_dir():
        raise SurrogateNASError(f"{what} {p} is a directory; give a file name")
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise SurrogateNASError(f"{what} {p}: {parent} is a file, not a directory")
    for probe in [parent] + ([p] if p.is_dir() else []):  # temp files go next to p; a directory's files into it
        try:
            with tempfile.TemporaryFile(dir=probe):
                pass
        except OSError as e:
            raise SurrogateNASError(f"{what} {p}: cannot write in {probe} ({e.strerror or e})") from None
    return p


class ConfigStore:
    """A resumable SQLite store made for one configuration: the one mechanism behind the search journal, the
    experiment results store and the latency and feature stores (each a subclass adding only its own tables).

    ``identity``: the configuration fields that decide what the store's rows mean (plain JSON-able data). A new
    store records it; a store made for another identity is refused in one line naming the fields that differ
    (:attr:`made_for`, :attr:`refuse_hint`). ``None``: the store checks and records no identity.
    ``create=False`` (readers) opens an existing store only, never creating a file or directory.
    ``meta``: further ``meta`` rows (text) written together with the identity when the store is made.

    On disk: the subclass's :attr:`tables` and a ``meta`` table (``name`` -> text ``value``) with ``fingerprint``
    (sha256 of the identity's JSON, sorted keys), ``identity`` (that JSON) and ``created`` (seconds since the
    epoch). A store of the former config stores (only a ``config`` row with the identity's JSON) is read too.
    WAL with ``synchronous=FULL``: a :meth:`transaction` is on disk when it returns. Errors are the subclass's
    :attr:`error`, each one line.
    """

    #: names the file in every message, e.g. "latency store"; its last word is the file in a difference
    #: ("seed: 1 in the store, 2 now")
    what = "store"
    #: the exception class of every refusal
    error: type[Exception] = SurrogateNASError
    #: "... was made with another <made_for> (...)"
    made_for = "configuration"
    #: ends the refusal of another configuration
    refuse_hint = "use another store"
    #: ends the refusal of a missing file (``create=False``)
    missing_hint = ""
    #: ``CREATE TABLE IF NOT EXISTS ...`` statements of the store's own tables
    tables: tuple[str, ...] = ()

    def __init__(
        self, path: str | os.PathLike, identity: dict | None = None, *, create: bool = True, meta: dict | None = None
    ):
        self.path = Path(path)
        self.identity = None if identity is None else json.loads(json.dumps(identity, default=str))
        if not create and not self.path.is_file():
            raise self.error(f"no {self.what} at {self.path}" + (f"; {self.missing_hint}" if self.missing_hint else ""))
        self.con: sqlite3.Connection | None = None
        try:
            self.con = self._connect(create)
            self.con.executescript("".join(f"{t.strip().rstrip(';')};\n" for t in (_META_TABLE, *self.tables)))
            stored = self._settle_identity(create, meta or {})
        except sqlite3.DatabaseError as e:
            self.close()
            raise self.error(f"{self.path} is not a usable SQLite {self.what} ({first_line(e)})") from None
        if stored is not None and self.identity is not None and stored[0] != fingerprint(self.identity):
            self.close()
            why = (differences(stored[1], self.identity, self.what.split()[-1]) if stored[1] is not None else "") or (
                "written by another version of surrogate-nas"
            )
            raise self.error(
                f"{self.what} {self.path} was made with another {self.made_for} ({why}); {self.refuse_hint}"
            )

    def _connect(self, create: bool) -> sqlite3.Connection:
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        else:  # mode=rw: an existing file only, even if it vanished since the check above
            con = sqlite3.connect(self.path.resolve().as_uri() + "?mode=rw", uri=True, timeout=60, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")
        except sqlite3.DatabaseError:
            con.close()
            raise
        return con

    def _settle_identity(self, create: bool, meta: dict) -> tuple[str, dict | None] | None:
        """The stored (fingerprint, identity); a new store gets this one's, in one transaction with ``meta``."""
        if not create or self.identity is None:
            return self._stored_identity()
        with self.transaction():  # BEGIN IMMEDIATE: two processes making one store record one identity
            stored = self._stored_identity()
            if stored is None:
                rows = {
                    "fingerprint": fingerprint(self.identity),
                    "identity": json.dumps(self.identity),
                    "created": json.dumps(time.time()),
                    **meta,
                }
                self.execute_many("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(rows.items()))
        return stored

    def _stored_identity(self) -> tuple[str, dict | None] | None:
        fp = self.meta_text("fingerprint")
        if fp is not None:
            return fp, _json_object(self.meta_text("identity"))
        legacy = _json_object(self.meta_text("config"))  # a former config store: the identity's JSON only
        return None if legacy is None else (fingerprint(legacy), legacy)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``): committed, durably, when the block ends; rolled back on
        an exception."""
        con = self._open()
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def execute(self, sql: str, params: Sequence = ()) -> sqlite3.Cursor:
        """Run one statement (outside :meth:`transaction`, a statement that writes is its own transaction)."""
        return self._open().execute(sql, params)

    def execute_many(self, sql: str, rows: Sequence[Sequence]) -> sqlite3.Cursor:
        return self._open().executemany(sql, rows)

    def meta_text(self, name: str) -> str | None:
        """The ``meta`` row ``name`` (text), None when the store has none."""
        row = self.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    def set_meta_text(self, name: str, value: str) -> None:
        self.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    def _open(self) -> sqlite3.Connection:
        if self.con is None:
            raise self.error(f"{self.what} {self.path} is closed")
        return self.con

    def close(self) -> None:
        if self.con is not None:
            with contextlib.suppress(sqlite3.Error):
                self.con.close()
            self.con = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_META_TABLE = "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"


def fingerprint(identity: dict) -> str:
    """sha256 of a configuration's identity fields (JSON, sorted keys): what a :class:`ConfigStore` records."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


def differences(old: dict, new: dict, where: str = "store") -> str:
    """The fields of two configurations that differ, in one line: ``"seed: 1 in the store, 2 now; ..."``."""

    def show(v):
        if v is None:
            return "-"
        return json.dumps(v, sort_keys=True, default=str) if isinstance(v, (dict, list)) else str(v)

    keys = sorted(set(old) | set(new))
    return "; ".join(
        f"{k}: {show(old.get(k))} in the {where}, {show(new.get(k))} now" for k in keys if old.get(k) != new.get(k)
    )


def _json_object(text: str | None) -> dict | None:
    try:
        value = json.loads(text) if text is not None else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def load_yaml(text: str):
    """Plain data from YAML ``text`` (safe constructors only) with aliases (``*name``) refused: a configuration
    is plain data, and a few nested aliases expand to billions of nodes (a "billion laughs" file) that hang or
    exhaust whoever walks them. Raises ``yaml.YAMLError`` like ``yaml.safe_load``."""
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(
                    None, None, "YAML aliases (*name) are not accepted in a configuration", mark
                )
            return super().compose_node(parent, index)

    return yaml.load(text, Loader=NoAliasLoader)  # a SafeLoader subclass: safe constructors only
