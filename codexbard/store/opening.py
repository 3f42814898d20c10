"""Checks made before SQLite touches a database file, and one-line messages for what goes wrong.

The rule here: a file that is not ours, or that we cannot read, is never modified. SQLite itself would
happily turn an empty path into a database and switch a rollback-journal file to WAL, so everything that
could be destructive is decided before the first write.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
from pathlib import Path
from typing import Final

from codexbard.errors import StoreError

SQLITE_HEADER: Final = b"SQLite format 3\x00"
NOT_SQLITE: Final = "it is not a SQLite database (left untouched; move it away or set another data_dir)"

# Primary result codes (the low byte of an extended code).
_SQLITE_PERM: Final = 3
_SQLITE_BUSY: Final = 5
_SQLITE_LOCKED: Final = 6
_SQLITE_READONLY: Final = 8
_SQLITE_CORRUPT: Final = 11
_SQLITE_FULL: Final = 13
_SQLITE_CANTOPEN: Final = 14
_SQLITE_NOTADB: Final = 26


def fail(path: Path, reason: str) -> StoreError:
    """Build the one-line error for a database that cannot be used."""
    return StoreError(f"cannot use database {path}: {reason}")


def read_header(path: Path) -> bytes:
    """Read the first 16 bytes of the file (a seam for tests)."""
    with path.open("rb") as handle:
        return handle.read(len(SQLITE_HEADER))


def prepare_path(path: Path) -> bool:
    """Check the path and create what is missing; return True when a new, empty file was created.

    Raises StoreError, without changing anything, for a directory, a special file, an unreadable file, or
    a file that does not start with the SQLite header.
    """
    parent = path.parent
    try:
        if not parent.exists():
            parent.mkdir(mode=0o700, parents=True)
        elif not parent.is_dir():
            raise fail(path, f"its parent {parent} is not a directory")
    except OSError as exc:
        raise fail(path, f"cannot create directory {parent}: {exc.strerror or exc}") from exc
    try:
        info = path.stat()
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise fail(path, exc.strerror or str(exc)) from exc
    if info is None:
        try:
            # Created here (0600) rather than by SQLite (0644 under the usual umask): the database holds
            # account identities, and SQLite gives its -wal and -shm files the same mode as the database.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return prepare_path(path)
        except OSError as exc:
            raise fail(path, f"cannot create it: {exc.strerror or exc}") from exc
        os.close(fd)
        return True
    if stat.S_ISDIR(info.st_mode):
        raise fail(path, "it is a directory, not a database file")
    if not stat.S_ISREG(info.st_mode):
        raise fail(path, "it is not a regular file")
    try:
        header = read_header(path)
    except PermissionError as exc:
        raise fail(path, "permission denied (cannot read the file)") from exc
    except OSError as exc:
        raise fail(path, f"cannot read it: {exc.strerror or exc}") from exc
    if header and header != SQLITE_HEADER:
        raise fail(path, NOT_SQLITE)
    return False


def translate(path: Path, exc: BaseException) -> StoreError:
    """Turn a sqlite3 or OS error met while opening into a one-line StoreError."""
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if primary in (_SQLITE_BUSY, _SQLITE_LOCKED) or "locked" in text:
            return fail(path, "it is locked by another process (is another codexbard running?)")
        if primary == _SQLITE_NOTADB:
            return fail(path, NOT_SQLITE)
        if primary == _SQLITE_CORRUPT:
            return fail(path, f"the database is damaged ({text})")
        if primary in (_SQLITE_PERM, _SQLITE_READONLY, _SQLITE_CANTOPEN):
            return fail(path, f"cannot open it for writing ({text})")
        if primary == _SQLITE_FULL:
            return fail(path, "the disk is full")
        return fail(path, text)
    if isinstance(exc, OSError):
        if exc.errno in (errno.EACCES, errno.EPERM):
            return fail(path, "permission denied")
        return fail(path, exc.strerror or str(exc))
    return fail(path, f"{type(exc).__name__}: {exc}")
