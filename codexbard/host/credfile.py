"""Structured credential files other tools own (Codex `auth.json`, Claude Code `.credentials.json`, ...).

- `CredentialFiles.read` parses a JSON object file off the event loop into a `CredentialDoc`, which picks values
  by dotted key paths with alternatives (`tokens.access_token` or `tokens.accessToken`); secrets come back as
  `Secret`, and neither the document nor any error ever prints a value.
- `expiry_status` says whether an expiry (epoch s, epoch ms or ISO) has passed or is within N seconds.
- `CredentialFiles.write_back` re-reads the file just before writing, merges our changes into what is there now
  (every unknown key kept), refuses with `CredentialConflict` when someone else changed the same values (they
  refreshed: use theirs), and writes atomically with mode 0600 (through a symlink to its target).
- `CredentialFiles.refresh_once` runs one token refresh per (file, account) however many polls ask at once.
- `WatchedFiles` is the set of files an account's strategies read; `Runtime.credential_fingerprint` stats them so
  a credential edited inside a tool's own file is noticed on the next detect cycle.

A refresh, as a strategy writes it::

    async def refresh() -> CredentialDoc:
        doc = await ctx.credential_files.read(path)          # re-read: maybe another poll or the tool refreshed
        if expiry_status(doc.expiry("expiresAt"), now, within=60).usable:
            return doc
        tokens = await ...                                   # the token endpoint
        try:
            return await ctx.credential_files.write_back(doc, {"claudeAiOauth.accessToken": tokens.access})
        except CredentialConflict as conflict:
            return conflict.current                          # theirs wins
    doc = await ctx.credential_files.refresh_once(path, ctx.account, refresh)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import re
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

from codexbard.host.clock import from_epoch_ms, from_epoch_seconds, parse_timestamp
from codexbard.host.credentials import Secret, write_private
from codexbard.host.files import FileIdentity

T = TypeVar("T")

MAX_CREDENTIAL_BYTES: Final = 1024 * 1024
MAX_WATCHED_FILES: Final = 256

FileProblem = Literal["not_found", "unreadable", "too_large", "decode_failed", "not_object"]


class CredentialFileError(Exception):
    """A credential file could not be used; `reason` says why (the message never quotes its content)."""

    def __init__(self, path: Path, reason: FileProblem, detail: str = "") -> None:
        texts = {
            "not_found": "does not exist",
            "unreadable": "cannot be read",
            "too_large": "is too large to be a credential file",
            "decode_failed": "is not valid JSON",
            "not_object": "does not hold a JSON object",
        }
        super().__init__(f"{path} {texts[reason]}" + (f" ({detail})" if detail else ""))
        self.path = path
        self.reason = reason


class CredentialConflict(Exception):
    """The file changed since it was read, in the values we meant to write: someone else refreshed.

    `current` is the document as it is now (None when the file was removed): use it instead of ours.
    """

    def __init__(self, path: Path, current: CredentialDoc | None, what: str) -> None:
        super().__init__(f"{path} changed since it was read ({what}); not overwriting it")
        self.path = path
        self.current = current


_CAMEL_HUMP: Final = re.compile(r"(?<=[a-z0-9])([A-Z])")


def _snake(segment: str) -> str:
    if not any(c.islower() for c in segment):  # OPENAI_API_KEY is a name, not a spelling
        return segment
    return _CAMEL_HUMP.sub(lambda m: "_" + m.group(1).lower(), segment)


def _camel(segment: str) -> str:
    if not any(c.islower() for c in segment):
        return segment
    head, *rest = segment.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def key_variants(path: str) -> tuple[str, ...]:
    """A dotted key path as written, then its camelCase and snake_case spellings (no duplicates)."""
    segments = path.split(".")
    spellings = (path, ".".join(_camel(s) for s in segments), ".".join(_snake(s) for s in segments))
    return tuple(dict.fromkeys(spellings))


def _lookup(data: Mapping[str, Any], path: str) -> Any:
    value: Any = data
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _present(value: Any) -> bool:
    """None and blank strings count as missing (the sheets' rule: empty strings are absent)."""
    return value is not None and not (isinstance(value, str) and not value.strip())


@dataclass(frozen=True, repr=False, eq=False)
class CredentialDoc:
    """A parsed credential file: its JSON object and the identity it had when read. Never prints its values."""

    path: Path  # where it was found (symlinks followed for writing)
    data: dict[str, Any]
    identity: FileIdentity
    digest: bytes  # SHA-256 of the bytes read, to see whether the file changed

    def __repr__(self) -> str:
        return f"CredentialDoc({self.path}, keys={sorted(self.data)!r})"

    __str__ = __repr__

    def value(self, *paths: str) -> Any:
        """The first present value among `paths` (each as written, then its other-case spelling), else None.

        Paths are tried in the order given; each path's own spelling wins over its camel/snake variant.
        """
        for path in paths:
            for spelling in key_variants(path):
                found = _lookup(self.data, spelling)
                if _present(found):
                    return found
        return None

    def string(self, *paths: str) -> str | None:
        """The first present string value, trimmed."""
        for path in paths:
            for spelling in key_variants(path):
                found = _lookup(self.data, spelling)
                if isinstance(found, str) and found.strip():
                    return found.strip()
        return None

    def secret(self, *paths: str) -> Secret | None:
        """The first present string value as a Secret (origin names the file, never the value)."""
        text = self.string(*paths)
        return None if text is None else Secret(text, f"file {self.path}")

    def expiry(self, *paths: str, unit: Literal["auto", "s", "ms"] = "auto") -> datetime | None:
        """An expiry instant: a number (epoch s or ms; `auto` takes >= 1e12 as ms) or an ISO string."""
        raw = self.value(*paths)
        if isinstance(raw, bool) or raw is None:
            return None
        if unit != "auto" and isinstance(raw, int | float | str):
            try:
                number = float(raw)
            except ValueError:
                return parse_timestamp(raw)
            if not math.isfinite(number):
                return None
            return from_epoch_ms(number) if unit == "ms" else from_epoch_seconds(number)
        return parse_timestamp(raw)


class ExpiryState(StrEnum):
    """Where a credential stands against its expiry."""

    VALID = "valid"
    EXPIRING = "expiring"  # within the caller's margin: refresh now
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # no expiry known and the caller did not say what that means


@dataclass(frozen=True)
class Expiry:
    """An expiry check: its state and the seconds left (negative once past; None when unknown)."""

    state: ExpiryState
    seconds_left: float | None
    within: float

    @property
    def usable(self) -> bool:
        """Whether the credential can be used as it is (valid, or of unknown expiry)."""
        return self.state in (ExpiryState.VALID, ExpiryState.UNKNOWN)

    def describe(self) -> str:
        """One phrase: `expired 30 s ago`, `expires within 60 s`, `valid for 3600 s`, `expiry unknown`."""
        if self.seconds_left is None:
            return "expiry unknown" if self.state is ExpiryState.UNKNOWN else "no expiry recorded"
        left = self.seconds_left
        if self.state is ExpiryState.EXPIRED:
            return f"expired {-left:.0f} s ago" if left < 0 else "expired"
        if self.state is ExpiryState.EXPIRING:
            return f"expires within {self.within:g} s"
        return f"valid for {left:.0f} s"


def expiry_status(
    expires_at: datetime | None,
    now: datetime,
    *,
    within: float = 0.0,
    missing: ExpiryState = ExpiryState.UNKNOWN,
) -> Expiry:
    """Check an expiry: expired when `now >= expires_at`, expiring when at most `within` s are left.

    `missing` is the state without an expiry (Claude Code: a missing `expiresAt` means expired).
    """
    if expires_at is None:
        return Expiry(missing, None, within)
    left = (expires_at - now).total_seconds()
    if left <= 0:
        return Expiry(ExpiryState.EXPIRED, left, within)
    if left <= within:
        return Expiry(ExpiryState.EXPIRING, left, within)
    return Expiry(ExpiryState.VALID, left, within)


def read_credential_file(path: Path, *, limit: int = MAX_CREDENTIAL_BYTES) -> CredentialDoc:
    """Read and parse a JSON-object credential file (blocking); CredentialFileError says what is wrong."""
    try:
        with open(path, "rb") as handle:
            st = os.fstat(handle.fileno())
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise CredentialFileError(path, "not_found") from None
    except (IsADirectoryError, NotADirectoryError):
        raise CredentialFileError(path, "unreadable", "not a regular file") from None
    except OSError as exc:
        raise CredentialFileError(path, "unreadable", exc.strerror or type(exc).__name__) from None
    if len(data) > limit:
        raise CredentialFileError(path, "too_large", f"over {limit} bytes")
    try:
        parsed = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CredentialFileError(path, "decode_failed") from None  # the decoder's message may quote content
    if not isinstance(parsed, dict):
        raise CredentialFileError(path, "not_object")
    return CredentialDoc(path, parsed, FileIdentity.of(st), hashlib.sha256(data).digest())


def _spelling(data: Mapping[str, Any], path: str) -> str:
    """The spelling of `path` the document already uses (so camelCase files stay camelCase), else `path`."""
    for spelling in key_variants(path):
        parent = _lookup(data, spelling.rpartition(".")[0]) if "." in spelling else data
        if isinstance(parent, Mapping) and spelling.rpartition(".")[2] in parent:
            return spelling
    return path


def _assign(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = data
    for key in parents:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ValueError(f"`{key}` is not an object")
        node = child
    node[leaf] = value


def write_back_blocking(doc: CredentialDoc, changes: Mapping[str, Any]) -> CredentialDoc:
    """Write `changes` (dotted key path → value) into the file `doc` was read from; return the new document.

    The file is re-read first. Unchanged: our changes are applied to it. Changed only elsewhere: our
    changes are merged into their version. Changed in a value we write, or removed: CredentialConflict.
    Written atomically (temp file + rename) with mode 0600, every other key kept.
    """
    target = Path(os.path.realpath(doc.path))
    try:
        current = read_credential_file(target)
    except CredentialFileError as exc:
        if exc.reason == "not_found":
            raise CredentialConflict(doc.path, None, "it was removed") from None
        raise
    if current.digest != doc.digest:
        for path in changes:
            ours = _lookup(doc.data, _spelling(doc.data, path))
            theirs = _lookup(current.data, _spelling(current.data, path))
            if ours != theirs:
                raise CredentialConflict(doc.path, _at(current, doc.path), f"`{path}` differs")
    merged = json.loads(json.dumps(current.data))  # a deep copy we may change
    for path, value in changes.items():
        try:
            _assign(merged, _spelling(merged, path), value)
        except ValueError as exc:
            raise CredentialConflict(doc.path, _at(current, doc.path), str(exc)) from None
    text = json.dumps(merged, indent=2, ensure_ascii=False) + "\n"
    write_private(target, text.encode("utf-8"))
    return _at(read_credential_file(target), doc.path)


def _at(doc: CredentialDoc, path: Path) -> CredentialDoc:
    """The same document, named by the path the caller used (not its symlink target)."""
    return CredentialDoc(path, doc.data, doc.identity, doc.digest)


class SingleFlight:
    """At most one run per key at a time: callers that ask while it runs share its result (or its error)."""

    def __init__(self) -> None:
        self._running: dict[tuple[int, Hashable], asyncio.Future[Any]] = {}

    def running(self, key: Hashable) -> bool:
        """Whether a run for `key` is in flight on this event loop."""
        return (id(asyncio.get_running_loop()), key) in self._running

    async def run(self, key: Hashable, fn: Callable[[], Awaitable[T]]) -> T:
        """Run `fn` for `key`, or wait for the run already in flight; a cancelled caller does not cancel it."""
        slot = (id(asyncio.get_running_loop()), key)
        task = self._running.get(slot)
        if task is None:

            async def call() -> T:
                return await fn()

            task = asyncio.ensure_future(call())
            self._running[slot] = task

            def forget(done: asyncio.Future[Any]) -> None:
                if self._running.get(slot) is done:
                    del self._running[slot]

            task.add_done_callback(forget)
        result: T = await asyncio.shield(task)
        return result


class WatchedFiles:
    """The files one account's strategies read, so a change to any of them changes its credential fingerprint."""

    def __init__(self) -> None:
        self._paths: dict[Path, None] = {}

    def add(self, path: str | Path) -> None:
        """Watch a file (it may not exist yet: appearing counts as a change)."""
        if len(self._paths) < MAX_WATCHED_FILES:
            self._paths[Path(path)] = None

    def paths(self) -> tuple[Path, ...]:
        """The watched paths, in the order first added."""
        return tuple(self._paths)

    def stamp(self) -> bytes:
        """(path, mtime_ns, size, inode) of every watched file, `absent` for a missing one (blocking)."""
        parts: list[str] = []
        for path in self._paths:
            try:
                st = path.stat()
            except OSError:
                parts.append(f"{path}\0absent\0")
                continue
            parts.append(f"{path}\0{st.st_mtime_ns}\0{st.st_size}\0{st.st_ino}\0")
        return "".join(parts).encode()


class CredentialFiles:
    """The host's credential-file service, shared by every account of a runtime (reads off the loop)."""

    def __init__(self, *, limit: int = MAX_CREDENTIAL_BYTES) -> None:
        self.limit = limit
        self._flights = SingleFlight()

    async def read(self, path: str | Path, *, watch: WatchedFiles | None = None) -> CredentialDoc:
        """Read a JSON credential file in a worker thread; with `watch`, the file is watched even if absent."""
        target = Path(path)
        if watch is not None:
            watch.add(target)
        return await asyncio.to_thread(read_credential_file, target, limit=self.limit)

    async def write_back(self, doc: CredentialDoc, changes: Mapping[str, Any]) -> CredentialDoc:
        """`write_back_blocking` in a worker thread."""
        return await asyncio.to_thread(write_back_blocking, doc, changes)

    async def refresh_once(self, path: str | Path, account: str | None, fn: Callable[[], Awaitable[T]]) -> T:
        """Run a token refresh for (file, account) once, however many polls ask while it runs."""
        key = (await asyncio.to_thread(os.path.realpath, path), account)
        return await self._flights.run(key, fn)
