"""`codexbard serve`: bind, open the database, start the jobs, serve HTTP, and stop cleanly.

The socket is bound before anything else so that a port in use is reported as one clear line (exit 2)
instead of a traceback. READY=1 goes to systemd only after the socket listens. SIGTERM/SIGINT stop
the server, then the jobs and the database within a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import importlib.util
import logging
import math
import resource
import signal
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from codexbard.api.entry import DaemonApp
from codexbard.api.protocol import AcceptLoop, ConnectionTable, GuardedHttpProtocol, Limits
from codexbard.api.security import is_loopback
from codexbard.config import MAX_INTERVAL_SECONDS, Settings
from codexbard.daemon import Daemon
from codexbard.errors import ConfigError, StoreError
from codexbard.providers.registry import Registry
from codexbard.runtime import Runtime

log = logging.getLogger("codexbard")

LONGEST_REFRESH_WAIT = 600.0  # the upper bound of the `refresh_timeout_seconds` setting

_SYSLOG_LEVEL = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = f"<{_SYSLOG_LEVEL.get(record.levelno, 6)}>{record.name}: {record.getMessage()}"
        if record.exc_info and record.levelno >= logging.ERROR:
            text += "\n" + self.formatException(record.exc_info)
        return text


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per record (`--json-output`, as the CodexBar CLI's machine-readable logs)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as `{"ts", "level", "logger", "message"}` on one line."""
        import json
        from datetime import UTC, datetime

        body = {
            "ts": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        return json.dumps(body, ensure_ascii=False)


@dataclass(frozen=True)
class ServeOptions:
    """The CodexBar-compatible `serve` flags: poll interval, refresh wait, JSON logs (None/False: as configured)."""

    refresh_interval: float | None = None
    request_timeout: float | None = None
    json_logs: bool = False


def apply_options(settings: Settings, registry: Registry, options: ServeOptions) -> None:
    """Apply `--refresh-interval` and `--request-timeout` to the loaded settings.

    `--refresh-interval` becomes `default_interval_seconds`, raised to the lowest provider minimum with a
    warning rather than refused (a client chose it, not the user); `--request-timeout` becomes
    `refresh_timeout_seconds` (0, "no deadline" in CodexBar, is the longest wait codexbard allows).
    """
    if options.refresh_interval is not None:
        lowest = min((spec.min_interval_seconds for spec in registry if spec.default_interval_seconds is None),
                     default=1)
        interval = max(math.ceil(options.refresh_interval), lowest, 1)
        if interval > options.refresh_interval:
            log.warning("--refresh-interval %g s raised to %d s (the lowest provider minimum)",
                        options.refresh_interval, interval)
        settings.default_interval_seconds = min(interval, MAX_INTERVAL_SECONDS)
    if options.request_timeout is not None:
        wait = LONGEST_REFRESH_WAIT if options.request_timeout <= 0 else min(options.request_timeout,
                                                                             LONGEST_REFRESH_WAIT)
        settings.refresh_timeout_seconds = wait


def setup_logging(level: str, env: Mapping[str, str], *, json_logs: bool = False) -> None:
    """Log to stderr; with journald's level prefixes when stderr is the journal, JSON lines when asked."""
    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        handler.setFormatter(JsonLinesFormatter())
    elif env.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("codexbard").setLevel(level.upper())
    # httpx logs request URLs at info; ours are logged at debug without query strings.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # A poll outliving its interval makes APScheduler warn about max_instances; the single-flight
    # poll already covers that case, so only its errors are worth a line.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


def sd_notify(message: str, env: Mapping[str, str]) -> bool:
    """Send one sd_notify datagram when running under systemd Type=notify."""
    address = env.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        log.debug("sd_notify failed: %s", exc)
        return False
    return True


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind and listen, or raise ConfigError with a one-line reason."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted connections only for such
    # sockets, and without it a response written as headers + body waits for the client's delayed
    # ACK (40 ms on every keep-alive request). Accepted sockets inherit TCP_NODELAY on Linux too.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is already in use (set `port` or --port)") from None
        if exc.errno == errno.EACCES:
            raise ConfigError(f"not allowed to bind {host}:{port}") from None
        raise ConfigError(f"cannot bind {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def connection_limits(reserve: int = 64, ceiling: int = 1024) -> Limits:
    """Limits whose connection cap stays under the descriptor limit (raised to the hard limit first).

    `reserve` descriptors stay free for the database, upstream requests, child processes and logs.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
    available = ceiling if soft == resource.RLIM_INFINITY else soft - reserve
    return Limits(max_connections=max(8, min(ceiling, available)))


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The event loop for `event_loop`: uvloop when installed (auto) or asked for, else asyncio."""
    installed = importlib.util.find_spec("uvloop") is not None
    if choice == "uvloop" and not installed:
        raise ConfigError("event_loop = 'uvloop' but uvloop is not installed (pip install uvloop, or use 'auto')")
    if choice == "asyncio" or not installed:
        return asyncio.new_event_loop
    import uvloop  # optional at run time

    return uvloop.new_event_loop


class _Server(uvicorn.Server):
    """uvicorn's server with our accept loop and protocol, and a `stopping` flag for the app."""

    def __init__(self, config: uvicorn.Config, limits: Limits, stopping: asyncio.Event) -> None:
        super().__init__(config)
        self.limits = limits
        self.stopping = stopping
        self.table = ConnectionTable(limits.max_connections)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            self.should_exit = True
            return
        factory = functools.partial(
            GuardedHttpProtocol, config=self.config, server_state=self.server_state,
            app_state=self.lifespan.state, limits=self.limits, table=self.table,
        )
        self.servers = []
        for sock in sockets or []:
            accept = AcceptLoop(sock, factory, self.table)
            accept.start()
            self.servers.append(accept)  # type: ignore[arg-type]
        self._loop = asyncio.get_running_loop()
        self.started = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Streaming responses watch `stopping` and end, so their connections close within the graceful period.
        self.stopping.set()
        await super().shutdown(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # A signal handler runs between two bytecodes of whatever the loop was doing: wake the
        # loop to set the flag instead of touching its futures from here.
        loop = getattr(self, "_loop", None)
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.stopping.set)
        super().handle_exit(sig, frame)


def build_server(daemon: Daemon, sock: socket.socket, limits: Limits | None = None) -> _Server:
    """The HTTP server for one daemon; the app's lifespan starts and stops the daemon."""
    stopping = asyncio.Event()
    app = DaemonApp(daemon, stopping=stopping, stop_timeout=4.0, freeze_heap=True)
    limits = limits or connection_limits()
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="on",
        http="httptools",
        ws="none",  # no websocket routes; skips importing a websocket implementation
        timeout_keep_alive=int(limits.keep_alive),
        timeout_graceful_shutdown=1,
        server_header=False,
    )
    return _Server(config, limits, stopping)


async def _serve(daemon: Daemon, sock: socket.socket, env: Mapping[str, str]) -> int:
    """Serve until a signal stops the server; the exit code (3 when the app failed to start)."""
    server = build_server(daemon, sock)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    watchdog = int(env.get("WATCHDOG_USEC", "0") or 0) if env.get("WATCHDOG_USEC", "").isdigit() else 0
    while not server.started:
        if task.done():
            break
        await asyncio.sleep(0.02)
    if server.started:
        host, port = sock.getsockname()[:2]
        log.info("serving on http://%s:%d (%s, up to %d connections)", host if ":" not in host else f"[{host}]",
                 port, type(asyncio.get_running_loop()).__module__.split(".")[0], server.limits.max_connections)
        sd_notify(f"READY=1\nSTATUS=serving on {host}:{port}", env)
    pinger = asyncio.create_task(_watchdog(watchdog, env)) if server.started and watchdog else None
    try:
        await task
    finally:
        if pinger is not None:
            pinger.cancel()
        sd_notify("STOPPING=1", env)
    return 0 if server.started else 3


async def _watchdog(usec: int, env: Mapping[str, str]) -> None:
    while True:
        sd_notify("WATCHDOG=1", env)
        await asyncio.sleep(usec / 2e6)


def run_serve(env: Mapping[str, str], config: Path | None, host: str | None, port: int | None,
              options: ServeOptions | None = None) -> int:
    """Run the daemon in the foreground; return the process exit code.

    Every startup failure is one line and a prompt exit with its code (2 config, 1 database, 3 the app
    failed to start); SIGTERM keeps its default action until the server is up.
    """
    import threading

    from codexbard.config import load_settings
    from codexbard.providers.registry import default_registry

    before = set(threading.enumerate())
    try:
        registry = default_registry()
        settings, paths = load_settings(env, config, registry)
        options = options or ServeOptions()
        apply_options(settings, registry, options)
        runtime = Runtime(settings, paths, env, registry=registry)
    except ConfigError as exc:
        print(f"codexbard: config error: {exc}", file=sys.stderr)
        return 2
    if host is not None:
        settings.host = host
    if port is not None:
        if not 1 <= port <= 65535:
            print(f"codexbard: --port must be between 1 and 65535 (got {port})", file=sys.stderr)
            return 2
        settings.port = port
    setup_logging(settings.log_level, env, json_logs=options.json_logs)
    if not is_loopback(settings.host) and settings.token is None:
        print(
            f"codexbard: config error: binding to {settings.host} exposes your usage data; "
            "set CODEXBARD_TOKEN (or `token`) to require a bearer token, or bind 127.0.0.1",
            file=sys.stderr,
        )
        return 2
    try:
        new_loop = loop_factory(settings.event_loop)
        sock = bind_socket(settings.host, settings.port)
    except ConfigError as exc:
        print(f"codexbard: {exc}", file=sys.stderr)
        return 2
    if not is_loopback(settings.host):
        log.warning("listening on %s: every data route requires the bearer token", settings.host)

    async def main() -> int:
        from codexbard.store.opening import preflight

        try:
            await asyncio.to_thread(preflight, runtime.paths.database)
            daemon = await Daemon.open(runtime)
        except StoreError as exc:
            print(f"codexbard: database error: {exc}", file=sys.stderr)
            await runtime.aclose()
            return 1
        except Exception as exc:  # one line, never a traceback and a hang
            print(f"codexbard: startup failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            await runtime.aclose()
            return 1
        # uvicorn re-raises the signal that stopped it once it has shut down; make that a no-op so
        # the process exits 0 after a clean stop instead of dying by the default handler. Only while
        # serving: before and after, SIGTERM keeps its default action (a prompt exit).
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: None)
        try:
            return await _serve(daemon, sock, env)
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)

    code = 1
    try:
        with asyncio.Runner(loop_factory=new_loop) as runner:
            code = runner.run(main())
            return code
    finally:
        sock.close()
        if code != 0:
            _exit_if_stuck(code, before)


def _exit_if_stuck(code: int, before: set[Any], grace: float = 2.0) -> None:
    """After a failed start, end the process if a worker thread it started (a database connection) would keep it.

    Only threads started by this `run_serve` count; they get `grace` seconds to finish.
    """
    import os
    import threading
    import time

    def stuck() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t not in before and not t.daemon and t.is_alive()]

    deadline = time.monotonic() + grace
    for thread in stuck():
        thread.join(max(0.0, deadline - time.monotonic()))
    if stuck():
        log.debug("exiting with %d past %d lingering thread(s)", code, len(stuck()))
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
