"""Test doubles for the Claude provider: credential files and a fake `claude` program for PTY tests."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.helpers import NOW

FUTURE_MS = int((NOW.timestamp() + 3600) * 1000)
PAST_MS = int((NOW.timestamp() - 60) * 1000)
ACCESS = "sk-ant-oat01-TESTACCESS-0123456789abcdef"
NEW_ACCESS = "sk-ant-oat01-REFRESHED-fedcba9876543210"
REFRESH = "sk-ant-ort01-TESTREFRESH-0123456789abcdef"

PANEL = (Path(__file__).parent / "fixtures" / "panels" / "usage_basic.txt").read_text()
STATUS = (Path(__file__).parent / "fixtures" / "panels" / "status.txt").read_text()


def credentials(
    *, access: str = ACCESS, refresh: str | None = REFRESH, expires: int | None = FUTURE_MS,
    scopes: list[str] | None = None, snake: bool = False, tier: str = "default_claude_max_20x",
) -> dict[str, Any]:
    """A Claude Code credentials document (camelCase as Claude Code writes it, or snake_case)."""
    names = ("access_token", "refresh_token", "expires_at", "scopes", "subscription_type", "rate_limit_tier") if snake \
        else ("accessToken", "refreshToken", "expiresAt", "scopes", "subscriptionType", "rateLimitTier")
    inner: dict[str, Any] = {names[0]: access, names[3]: scopes or ["user:inference", "user:profile"],
                             names[4]: "max", names[5]: tier}
    if refresh is not None:
        inner[names[1]] = refresh
    if expires is not None:
        inner[names[2]] = expires
    return {("claude_ai_oauth" if snake else "claudeAiOauth"): inner, "otherKey": {"keep": True}}


def write_credentials(root: Path, doc: dict[str, Any]) -> Path:
    """Write `.credentials.json` under a Claude config root (mode 0600)."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / ".credentials.json"
    path.write_text(json.dumps(doc))
    path.chmod(0o600)
    return path


_SCRIPT = r'''#!{python}
import json, os, re, sys, termios, time
MODE = {mode!r}
LOG = {log!r}
PANEL = {panel!r}
STATUS = {status!r}
CREDS = {creds!r}
NEW_TOKEN = {new_token!r}
LOGGED_IN = {logged_in!r}

def log(kind, value):
    with open(LOG, "a") as fh:
        fh.write(json.dumps([kind, value]) + "\n")

log("argv", sys.argv[1:])
WATCHED = ("ANTHROPIC", "CODEXBAR", "CLAUDE", "DISABLE", "TERM", "PWD")
log("env", {{k: v for k, v in os.environ.items() if k.startswith(WATCHED)}})
if sys.argv[1:] == ["auth", "status", "--json"]:
    print(json.dumps({{"loggedIn": LOGGED_IN, "authMethod": "claude.ai"}}))
    sys.exit(0)
if sys.argv[1:] == ["--version"]:
    print("2.1.9 (Claude Code)")
    sys.exit(0)
if sys.stdin.isatty():  # Claude Code draws its own input line: no terminal echo
    attrs = termios.tcgetattr(0)
    attrs[3] &= ~termios.ECHO
    termios.tcsetattr(0, termios.TCSANOW, attrs)
out = sys.stdout
def clean(line):
    # The terminal's answer to a cursor-position query arrives as input, like in the real program.
    return re.sub(r"\x1b\[[0-9;]*R", "", line.rstrip("\n"))
def show(text):
    out.write(text)
    out.flush()

if MODE == "nothing":
    for line in sys.stdin:
        log("line", clean(line))
    sys.exit(0)
if MODE == "login":
    show("\x1b[2J\x1b[H Welcome to Claude Code\r\n\r\n Select login method:\r\n")
    show(" 1. Claude account with subscription\r\n")
    for line in sys.stdin:
        log("line", clean(line))
    sys.exit(0)
show("\x1b[2J\x1b[H\x1b[1m Do you trust the files in this folder?\x1b[0m\r\n 1. Yes, proceed\r\n")
for line in sys.stdin:  # the folder-trust prompt swallows everything until it is answered
    log("line", clean(line))
    if clean(line) == "y":
        show("\x1b[2J\x1b[H Welcome to Claude Code\r\n > \r\n")
        break
for line in sys.stdin:
    line = clean(line)
    log("line", line)
    if line == "/exit":
        sys.exit(0)
    if line == "/usage" and MODE == "panel":
        show("\x1b[2J\x1b[H")
        rows = PANEL.split("\n")
        # Draw the lower half first with absolute cursor moves, then the upper half: only a rendered
        # screen reads in order.
        half = len(rows) // 2
        for index in list(range(half, len(rows))) + list(range(half)):
            show("\x1b[%d;1H\x1b[2K\x1b[36m%s\x1b[0m" % (index + 3, rows[index]))
        show("\x1b[6n")
        show("\x1b[%d;1H" % (len(rows) + 4))
    if line == "/status":
        if MODE == "refresh":
            doc = json.load(open(CREDS))
            doc["claudeAiOauth"]["accessToken"] = NEW_TOKEN
            doc["claudeAiOauth"]["expiresAt"] = int(time.time() * 1000) + 10**12
            tmp = CREDS + ".tmp"
            with open(tmp, "w") as fh:
                json.dump(doc, fh)
            os.replace(tmp, CREDS)
        else:
            show("\x1b[2J\x1b[H" + STATUS.replace("\n", "\r\n"))
'''


def fake_claude(
    folder: Path, mode: str = "panel", *, panel: str = PANEL, creds: Path | None = None, logged_in: bool = True
) -> tuple[Path, Path]:
    """Write an executable fake `claude` (modes: panel, login, nothing, refresh); return (program, log)."""
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / "claude"
    log = folder / "claude.log"
    program.write_text(_SCRIPT.format(
        python=sys.executable, mode=mode, log=str(log), panel=panel, status=STATUS,
        creds=str(creds) if creds else "", new_token=NEW_ACCESS, logged_in=logged_in,
    ))
    program.chmod(0o755)
    return program, log


def read_log(log: Path) -> list[tuple[str, Any]]:
    """The fake's log: ("argv", [...]), ("env", {...}), ("line", typed line) entries in order."""
    if not log.exists():
        return []
    return [tuple(json.loads(line)) for line in log.read_text().splitlines()]  # type: ignore[misc]


def typed_lines(log: Path) -> list[str]:
    """Every non-empty line typed into the fake (Enter alone is left out)."""
    return [value for kind, value in read_log(log) if kind == "line" and value]
