"""`codexbard statusline`: Claude Code's status-line command (forward rate limits, print one line), and its setup.

The feed (no arguments, or `--wrap COMMAND`) runs on every Claude Code prompt, so it imports almost nothing
(json, socket, tomllib): it reads Claude Code's JSON from stdin, POSTs it to the running daemon's
`/ingest/claude-statusline` when it carries `rate_limits`, and prints one line such as
`5h 23% ↻19:15 · 7d 41%` (reset in local time). Without rate limits in the input it shows the daemon's stored
Claude data (`GET /usage?provider=claude`); with the daemon down, a plain line. It never fails: every error
ends in a line on stdout and exit code 0, within about 200 ms (short socket timeouts). `--wrap COMMAND` also
runs the user's previous status-line command with the same input and shows both outputs.

`install` / `uninstall [--dry-run]` edit Claude Code's settings.json (see `statusline_setup`).
"""

from __future__ import annotations

import _socket
import json
import sys
import time
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

NAME = "statusline"
MAX_INPUT = 1024 * 1024
DEFAULT_PORT = 8765
CONNECT_TIMEOUT = 0.08
BUDGET_SECONDS = 0.15  # all socket work together; Python's own start-up is the rest of the 200 ms
WRAP_TIMEOUT = 2.0
LINGER_SECONDS = 10.0
SEPARATOR = " · "
PLAIN = "Claude"
INGEST_PATH = "/ingest/claude-statusline"
USAGE_PATH = "/usage?provider=claude"


def quote(text: str) -> str:
    """Percent-encode a query value (urllib.parse costs start-up time for one call)."""
    safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/"
    return "".join(c if c in safe else "".join(f"%{b:02X}" for b in c.encode()) for c in text)


def add_parser(subparsers: Any) -> None:
    """Register `statusline` and its actions."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME, help="Claude Code status-line command: forward its rate limits to the daemon and print one line")
    parser.add_argument("action", nargs="?", choices=("install", "uninstall"),
                        help="add codexbard to (or remove it from) Claude Code's settings.json")
    parser.add_argument("--dry-run", action="store_true", help="print the change instead of writing it")
    parser.add_argument("--wrap", metavar="COMMAND", help="also run this status-line command and show both")


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """`install`/`uninstall`, or the feed itself."""
    if args.action is None:
        return feed(env, wrap=args.wrap)
    from codexbard.cli.statusline_setup import install, uninstall

    action = install if args.action == "install" else uninstall
    return action(env, dry_run=args.dry_run)


# --- the feed ---------------------------------------------------------------------------------------------------


def feed(env: Mapping[str, str], *, wrap: str | None = None, stdin: Any = None, stdout: Any = None) -> int:
    """Read Claude Code's JSON, forward it, print one line; always exit 0."""
    out = stdout or sys.stdout
    try:
        raw = _read_input(stdin or sys.stdin)
        line = compose(raw, env)
        if wrap:
            line = _wrapped(wrap, raw, env) + line
    except Exception:
        line = PLAIN
    try:
        out.write(line + "\n")
        out.flush()
    except Exception:  # noqa: S110 - nowhere left to report to
        pass
    return 0


def _read_input(stream: Any) -> bytes:
    if stream.isatty():
        return b""
    buffer = getattr(stream, "buffer", stream)
    data = buffer.read(MAX_INPUT + 1)
    if isinstance(data, str):
        data = data.encode()
    return bytes(data[:MAX_INPUT])


def _wrapped(command: str, raw: bytes, env: Mapping[str, str]) -> str:
    from codexbard.host.shell import run_shell

    text = run_shell(command, raw, timeout=WRAP_TIMEOUT, env=env).rstrip("\n")
    return text + SEPARATOR if text.strip() else ""


def compose(raw: bytes, env: Mapping[str, str], now: float | None = None) -> str:
    """The line for one input: from its rate limits (forwarded), else the daemon's data, else plain."""
    try:
        data = json.loads(raw) if raw.strip() else None
    except (ValueError, RecursionError):
        data = None
    payload = data if isinstance(data, dict) else {}
    target = Daemon.from_env(env)
    moment = time.time() if now is None else now
    windows = input_windows(payload, moment)
    if windows:
        target.post(INGEST_PATH, raw)
        return format_line(windows)
    stored = target.get(USAGE_PATH)
    windows = stored_windows(stored, target.account)
    if windows:
        return format_line(windows)
    return plain_line(payload)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if number == number and abs(number) != float("inf") else None


def input_windows(payload: Mapping[str, Any], now: float) -> list[tuple[str, float, float | None]]:
    """(label, used %, reset epoch s) of `rate_limits.five_hour` and `.seven_day`; past resets are dropped."""
    limits = payload.get("rate_limits")
    if not isinstance(limits, dict):
        return []
    out: list[tuple[str, float, float | None]] = []
    for key, label in (("five_hour", "5h"), ("seven_day", "7d")):
        window = limits.get(key)
        if not isinstance(window, dict):
            continue
        used = _number(window.get("used_percentage"))
        reset = _number(window.get("resets_at"))
        if used is None or (reset is not None and reset <= now):
            continue
        out.append((label, used, reset))
    return out


def stored_windows(payloads: Any, account: str | None) -> list[tuple[str, float, float | None]]:
    """The windows of the daemon's Claude payload for `account` (primary → 5h, secondary → 7d)."""
    if not isinstance(payloads, list):
        return []
    chosen = [p for p in payloads if isinstance(p, dict) and p.get("provider") == "claude"
              and isinstance(p.get("usage"), dict)]
    mine = [p for p in chosen if p.get("account") == account] or chosen
    if not mine:
        return []
    usage = mine[0]["usage"]
    out: list[tuple[str, float, float | None]] = []
    for key, default in (("primary", "5h"), ("secondary", "7d")):
        window = usage.get(key)
        if not isinstance(window, dict):
            continue
        used = _number(window.get("usedPercent"))
        if used is None:
            continue
        minutes = window.get("windowMinutes")
        label = {300: "5h", 10080: "7d"}.get(minutes, default) if isinstance(minutes, int) else default
        reset: float | None = None
        text = window.get("resetsAt")
        if isinstance(text, str):
            try:
                reset = datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
            except ValueError:
                reset = None
        out.append((label, used, reset))
    return out


def format_line(windows: list[tuple[str, float, float | None]]) -> str:
    """`5h 23% ↻19:15 · 7d 41%`: whole percents, the 5-hour reset as local HH:MM."""
    parts = []
    for label, used, reset in windows:
        text = f"{label} {int(used)}%"
        if label == "5h" and reset is not None:
            text += " ↻" + datetime.fromtimestamp(reset).strftime("%H:%M")
        parts.append(text)
    return SEPARATOR.join(parts)


def plain_line(payload: Mapping[str, Any]) -> str:
    """What shows without any usage data: `Claude`, with the session's model name when Claude Code sent it."""
    model = payload.get("model")
    name = model.get("display_name") if isinstance(model, dict) else None
    return f"{PLAIN} ({name})" if isinstance(name, str) and name.strip() else PLAIN


# --- the daemon, over a bare socket (http.client and urllib cost more start-up than the whole request) ---------


class Daemon:
    """Where the daemon listens and how to talk to it, from the environment and the config file."""

    def __init__(self, host: str, port: int, token: str | None, account: str | None,
                 config_dir: str | None) -> None:
        self.host = host
        self.port = port
        self.token = token
        self.account = account
        self.config_dir = config_dir
        self.deadline = time.monotonic() + BUDGET_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Daemon:
        """Read CODEXBARD_HOST/PORT/TOKEN, else the config file's host/port/token and Claude accounts."""
        config = _load_config(env)
        host = env.get("CODEXBARD_HOST") or config.get("host") or "127.0.0.1"
        if not isinstance(host, str) or host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        try:
            port = int(env.get("CODEXBARD_PORT") or config.get("port") or DEFAULT_PORT)
        except (TypeError, ValueError):
            port = DEFAULT_PORT
        token = env.get("CODEXBARD_TOKEN") or config.get("token")
        config_dir = env.get("CLAUDE_CONFIG_DIR", "").strip() or None
        account = _account_for(config, config_dir, env.get("HOME", ""))
        return cls(host.strip("[]"), port, token if isinstance(token, str) else None, account, config_dir)

    def _query(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        if self.account:
            return f"{path}{sep}account={quote(self.account)}"
        if self.config_dir and path.startswith(INGEST_PATH):
            return f"{path}{sep}config_dir={quote(self.config_dir)}"
        return path

    def post(self, path: str, body: bytes) -> Any:
        """POST a JSON body; the decoded answer, or None (down, slow, refused)."""
        return self._request("POST", self._query(path), body)

    def get(self, path: str) -> Any:
        """GET a JSON document; None when the daemon is not there in time."""
        return self._request("GET", self._query(path), b"")

    def _request(self, method: str, target: str, body: bytes) -> Any:
        left = self.deadline - time.monotonic()
        if left <= 0:
            return None
        host = f"[{self.host}]" if ":" in self.host else self.host
        head = [f"{method} {target} HTTP/1.1", f"Host: {host}:{self.port}", "Connection: close",
                "Accept: application/json", "User-Agent: codexbard-statusline"]
        if self.token:
            head.append(f"Authorization: Bearer {self.token}")
        if method == "POST":
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        family = _socket.AF_INET6 if ":" in self.host else _socket.AF_INET
        chunks = []
        try:
            # The C module directly: `socket.py` imports enum and selectors, a few ms for nothing here.
            sock = _socket.socket(family, _socket.SOCK_STREAM)
        except OSError:
            return None
        sent = False
        try:
            sock.settimeout(min(CONNECT_TIMEOUT, left))
            sock.connect((self.host, self.port))
            sock.settimeout(max(0.01, self.deadline - time.monotonic()))
            sock.sendall(request)
            sent = True
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except TimeoutError:
            if sent and method == "POST":
                _linger(sock)
            return None
        except OSError:
            return None
        finally:
            sock.close()
        return _decode_response(b"".join(chunks))


def _linger(sock: Any) -> None:
    """Let a detached child wait for the daemon's answer, so a slow first request is not dropped.

    The daemon drops a request whose client went away before it read the body (the first request after
    start loads the API router, which takes longer than the status line may wait). The child has no stdio,
    so Claude Code sees this command finish at once; it exits after the answer or `LINGER_SECONDS`.
    """
    import os

    try:
        pid = os.fork()
    except OSError:
        return
    if pid != 0:
        return
    try:  # the child: never returns
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        sock.settimeout(LINGER_SECONDS)
        while sock.recv(65536):
            pass
    except BaseException:  # noqa: S110 - a detached helper has nowhere to report to
        pass
    finally:
        os._exit(0)


def _decode_response(data: bytes) -> Any:
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)
    if len(status) < 2 or status[1] != b"200":
        return None
    if b"transfer-encoding: chunked" in head.lower():
        body = _unchunk(body)
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _unchunk(body: bytes) -> bytes:
    out = bytearray()
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return bytes(out)


def config_path(env: Mapping[str, str]) -> str:
    """$CODEXBARD_CONFIG, else $XDG_CONFIG_HOME/codexbard/config.toml, else ~/.config/codexbard/config.toml."""
    explicit = env.get("CODEXBARD_CONFIG", "").strip()
    if explicit:
        return _expand(explicit, env.get("HOME", ""))
    base = env.get("XDG_CONFIG_HOME", "").strip() or (env.get("HOME", "") + "/.config")
    return f"{base}/codexbard/config.toml"


def _expand(path: str, home: str) -> str:
    if home and (path == "~" or path.startswith("~/")):
        return home + path[1:]
    return path


def _load_config(env: Mapping[str, str]) -> dict[str, Any]:
    try:
        with open(config_path(env), "rb") as handle:
            text = handle.read(MAX_INPUT)
    except OSError:
        return {}
    import tomllib

    try:
        return tomllib.loads(text.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return {}


def _account_for(config: Mapping[str, Any], config_dir: str | None, home: str) -> str | None:
    """The label of the configured Claude account whose `claude_config_dir` is this session's config dir."""
    if not config_dir:
        return None
    import os.path

    providers = config.get("providers")
    claude = providers.get("claude") if isinstance(providers, dict) else None
    accounts = claude.get("accounts") if isinstance(claude, dict) else None
    wanted = os.path.normpath(_expand(config_dir, home))
    for entry in accounts if isinstance(accounts, list) else []:
        if not isinstance(entry, dict):
            continue
        configured = entry.get("claude_config_dir")
        label = entry.get("label")
        if isinstance(configured, str) and isinstance(label, str) and (
            os.path.normpath(_expand(configured.strip(), home)) == wanted
        ):
            return label
    return None
