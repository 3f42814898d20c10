"""The HTTP connection layer under the app: bounded heads, timeouts, a connection cap, JSON errors.

uvicorn's httptools protocol parses requests; this subclass puts limits around it that a daemon
exposed to any local program (and any web page, through the browser) needs:

- a request head (request line and headers) must arrive within `head_timeout` and stay under
  `max_head_bytes`, `max_headers` headers and a `max_target` byte request target;
- a Host header must be single, and an absolute-form target must name the same host;
- every refusal is a JSON `{"error": …}` with the matching status, then the connection closes.

`AcceptLoop` replaces asyncio's accept loop so that the number of open connections stays under the
process's descriptor limit: at the cap the oldest connection that is not serving a request is
closed, and if every connection is busy, accepting waits. Descriptor exhaustion is logged once per
interval, never as a traceback per accept.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from codexbard.api.security import host_name

log = logging.getLogger("codexbard.http")

_REASONS: Final = {400: b"Bad Request", 408: b"Request Timeout", 414: b"URI Too Long",
                   431: b"Request Header Fields Too Large", 503: b"Service Unavailable"}
_EXHAUSTED: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-connection bounds. The defaults suit a localhost JSON API with no request bodies."""

    head_timeout: float = 10.0
    keep_alive: float = 5.0
    max_target: int = 8 * 1024
    max_headers: int = 100
    max_head_bytes: int = 32 * 1024
    max_connections: int = 1024


class ThrottledLog:
    """Log a recurring condition at most once per `interval` seconds, with the count in between."""

    def __init__(self, logger: logging.Logger, interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._last: float | None = None
        self._suppressed = 0

    def warning(self, message: str, *args: object) -> bool:
        """Log now, or count it for the next line; return whether a line was written."""
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            self._suppressed += 1
            return False
        if self._suppressed:
            message += f" ({self._suppressed} more since the last report)"
        self._logger.warning(message, *args)
        self._last = now
        self._suppressed = 0
        return True


class _Refused(Exception):
    """Raised inside a parser callback; the protocol answers with `status` and closes."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ConnectionTable:
    """The open connections in the order they were accepted, for the cap and for eviction."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[GuardedHttpProtocol, None] = {}
        self._freed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._open)

    def add(self, connection: GuardedHttpProtocol) -> None:
        self._open[connection] = None

    def discard(self, connection: GuardedHttpProtocol) -> None:
        if self._open.pop(connection, 0) is None:
            self._freed.set()

    def evict_idle(self) -> bool:
        """Close the oldest connection that is not serving a request; whether there was one."""
        for connection in self._open:
            if connection.is_idle():
                connection.evict()
                self.discard(connection)
                return True
        return False

    async def wait_for_room(self, timeout: float) -> None:
        self._freed.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._freed.wait()


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with bounded request heads and JSON refusals."""

    def __init__(self, *args: Any, limits: Limits, table: ConnectionTable, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = limits
        self._table = table
        self._head_timer: asyncio.TimerHandle | None = None
        self._awaiting_head = True
        self._head_bytes = 0
        self._header_count = 0
        self._parsed_bytes = 0
        self._host_values: list[bytes] = []
        self._refused: _Refused | None = None
        self._done = False

    # connection lifecycle

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._table.add(self)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._done = True
        self._cancel_head_timer()
        self._table.discard(self)
        super().connection_lost(exc)

    def is_idle(self) -> bool:
        """Not serving a request: waiting for (the rest of) a request head, or between requests."""
        return not self._done and (self.cycle is None or self.cycle.response_complete)

    def evict(self) -> None:
        self._done = True
        self._cancel_head_timer()
        self.transport.close()

    # reading

    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        self._unset_keepalive_if_required()
        if self._awaiting_head:
            self._head_bytes += len(data)
            if self._head_timer is None:
                self._arm_head_timer()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(_Refused(400, "protocol upgrades are not supported"))
            return
        except httptools.HttpParserError:
            self._refuse(self._refused or _Refused(400, "malformed HTTP request"))
            return
        if self._awaiting_head and self._head_bytes > self._limits.max_head_bytes:
            self._refuse(_Refused(431, f"request headers exceed {self._limits.max_head_bytes} bytes"))

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting_head = True
        self._header_count = 0
        self._parsed_bytes = 0
        self._host_values = []

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._parsed_bytes += len(url)
        if len(self.url) > self._limits.max_target:
            self._raise(414, f"the request target exceeds {self._limits.max_target} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._parsed_bytes += len(name) + len(value) + 4
        if self._header_count > self._limits.max_headers:
            self._raise(431, f"more than {self._limits.max_headers} request headers")
        if self._parsed_bytes > self._limits.max_head_bytes:
            self._raise(431, f"request headers exceed {self._limits.max_head_bytes} bytes")
        if name.lower() == b"host":
            self._host_values.append(value.strip())
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if len(self._host_values) > 1:
            self._raise(400, "more than one Host header")
        if self.url[:7].lower() == b"http://" or self.url[:8].lower() == b"https://":
            authority = self.url.split(b"//", 1)[1].split(b"/", 1)[0].split(b"?", 1)[0]
            given = self._host_values[0] if self._host_values else b""
            if host_name(authority.decode("latin-1")) != host_name(given.decode("latin-1")):
                self._raise(400, "the request target names a different host than the Host header")
        self._awaiting_head = False
        self._head_bytes = 0
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._awaiting_head = True

    # refusing

    def _raise(self, status: int, message: str) -> None:
        self._refused = _Refused(status, message)
        raise self._refused

    def _refuse(self, refused: _Refused) -> None:
        self._done = True
        self._cancel_head_timer()
        log.debug("refused a request from %s: %s", self.client, refused.message)
        if not self.transport.is_closing():
            self.transport.write(_error_response(refused.status, refused.message))
            self.transport.close()

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self._limits.head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._done or not self._awaiting_head:
            return
        if self._head_bytes:
            self._refuse(_Refused(408, f"the request headers did not arrive within {self._limits.head_timeout:g} s"))
        else:
            self.evict()


def _error_response(status: int, message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    return b"".join((
        b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Error")),
        b"content-type: application/json\r\n",
        b"content-length: %d\r\n" % len(body),
        b"connection: close\r\n\r\n",
        body,
    ))


class AcceptLoop:
    """Accept connections on a listening socket while the table has room.

    Stands in for an `asyncio.Server` in uvicorn's shutdown (`close`, `wait_closed`).
    """

    def __init__(self, sock: socket.socket, factory: Callable[[], asyncio.Protocol], table: ConnectionTable,
                 throttled: ThrottledLog | None = None) -> None:
        self._sock = sock
        self._factory = factory
        self._table = table
        self._throttled = throttled or ThrottledLog(log)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._sock.setblocking(False)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="codexbard-accept")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(self._sock)
            except OSError as exc:
                if self._sock.fileno() == -1:
                    return
                if exc.errno not in _EXHAUSTED:
                    self._throttled.warning("accepting a connection failed: %s", exc.strerror)
                    await asyncio.sleep(0.1)
                    continue
                self._throttled.warning(
                    "out of file descriptors (%s) with %d connections open; closing idle ones",
                    exc.strerror, len(self._table))
                if not self._table.evict_idle():
                    await self._table.wait_for_room(0.5)
                continue
            if not await self._make_room():
                conn.close()
                continue
            if conn.family in (socket.AF_INET, socket.AF_INET6):
                with contextlib.suppress(OSError):
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                await loop.connect_accepted_socket(self._factory, conn)
            except OSError:
                conn.close()

    async def _make_room(self, patience: float = 10.0) -> bool:
        """At the cap, close the oldest idle connection, or wait for one to end; whether there is room."""
        deadline = asyncio.get_running_loop().time() + patience
        while len(self._table) >= self._table.limit:
            if self._table.evict_idle():
                return True
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                self._throttled.warning("%d connections are all busy; refusing new ones", len(self._table))
                return False
            await self._table.wait_for_room(min(left, 1.0))
        return True

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def wait_closed(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
