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
import time
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


def writable(path: Path) -> bool:
    """Whether this process may write `path` (a seam for tests: root may write anything)."""
    return os.access(path, os.W_OK)


def write_problem(path: Path) -> str | None:
    """Why the database at `path` cannot be written, in words without the path; None when it can.

    SQLite needs to write the file and, in WAL mode, to create `-wal` and `-shm` files beside it.
    """
    parent = path.parent
    if not parent.is_dir():
        return "the data directory is missing"
    if not (writable(parent) and os.access(parent, os.X_OK)):
        return "the data directory is not writable"
    if path.exists() and not writable(path):
        return "the database file is read-only"
    return None


_PROBE_TTL: Final = 1.0
_probes: dict[Path, tuple[float, str | None]] = {}


def cached_write_problem(path: Path) -> str | None:
    """`write_problem`, re-checked at most once a second (for `/health`)."""
    now = time.monotonic()
    seen = _probes.get(path)
    if seen is not None and now - seen[0] < _PROBE_TTL:
        return seen[1]
    problem = write_problem(path)
    _probes[path] = (now, problem)
    return problem


def preflight(path: Path, budget_seconds: float = 10.0) -> None:
    """Checks `serve` makes before opening: the data dir and file are writable and every page reads back.

    Raises StoreError with one line. A file SQLite cannot read whole (a damaged page behind a valid
    header) is refused here instead of failing at the first write. `PRAGMA quick_check` is cut off after
    `budget_seconds` (a huge database then starts unchecked rather than late).
    """
    problem = write_problem(path)
    if problem is not None and (path.exists() or problem != "the data directory is missing"):
        raise fail(path, f"{problem} (codexbard needs to write it; check the permissions)")
    if not path.exists() or path.stat().st_size == 0:
        return
    deadline = time.monotonic() + budget_seconds
    try:
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=1.0)
    except sqlite3.Error as exc:
        raise translate(path, exc) from exc
    try:
        connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        rows = connection.execute("PRAGMA quick_check(3)").fetchall()
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            return
        raise translate(path, exc) from exc
    except sqlite3.Error as exc:
        raise translate(path, exc) from exc
    finally:
        connection.close()
    lines = [line for row in rows for line in str(row[0]).splitlines() if line.strip()]
    if lines and lines != ["ok"]:
        detail = next((line for line in lines if not line.startswith("***")), lines[0])
        raise fail(path, f"the database is damaged ({detail}); move it away or set another data_dir")
