"""Atomic writes: a temp file (or directory) next to the target, fsync, then rename.

Files and directories are created with the permissions the user's umask gives (``mkstemp`` and
``mkdtemp`` would leave them 0600/0700).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


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
    from .errors import SurrogateNASError

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


def open_config_store(path: str | os.PathLike, what: str, config: dict, tables: list[str], hint: str = ""):
    """Open (creating) a resumable SQLite store made for one ``config``: its ``meta`` table records the config's
    JSON, and a store made with another config is refused in one line naming both (``hint`` ends the message).
    ``tables``: ``CREATE TABLE IF NOT EXISTS`` statements of the store's own tables."""
    import json
    import sqlite3

    from .errors import DataError

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = sqlite3.connect(str(path), timeout=60)
        con.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
        for sql in tables:
            con.execute(sql)
        row = con.execute("SELECT value FROM meta WHERE name = 'config'").fetchone()
    except sqlite3.DatabaseError as e:
        raise DataError(f"{what} {str(path)!r} is not a usable SQLite file ({e})") from None
    text = json.dumps(config, sort_keys=True)
    if row is None:
        with con:
            con.execute("INSERT INTO meta VALUES ('config', ?)", (text,))
    elif json.loads(row[0]) != config:
        con.close()
        raise DataError(
            f"{what} {str(path)!r} was made with another configuration ({row[0]}); "
            f"this run's is {text}: use another store{hint}"
        )
    return con


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
