"""Codex test support: synthetic JWTs and auth.json files in a temp HOME, fake `codex` programs, contexts."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codexbard.providers.base import FetchContext
from tests.helpers import make_context
from tests.providers import kit

USAGE_URL = "https://chatgpt.com/backend-api/wham/usage"
REFRESH_URL = "https://auth.openai.com/oauth/token"
WHOAMI_URL = "https://auth.openai.com/api/accounts/v1/user-auth-credential/whoami"
FRESH = "2026-11-24T09:30:00Z"  # a day before tests.helpers.NOW (2026-11-25 18:00 UTC)
STALE = "2026-11-01T00:00:00Z"  # over 8 days before NOW


def jwt(payload: dict[str, Any]) -> str:
    """An unsigned JWT carrying `payload` (base64url, no padding)."""

    def seg(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{seg({'alg': 'none'})}.{seg(payload)}.sig"


ID_CLAIMS = {
    "email": "sam.rivera@example.org",
    "https://api.openai.com/auth": {"chatgpt_plan_type": "plus", "chatgpt_account_id": "acct-from-jwt"},
}
ID_TOKEN = jwt(ID_CLAIMS)
ACCESS = jwt({"sub": "user-synthetic", "nonce": "access-synthetic-0123456789"})
REFRESH = "rt_synthetic_0123456789abcdef"


def auth_doc(*, last_refresh: str | None = FRESH, account_id: str | None = "acct-synthetic-7f3a",
             **extra: Any) -> dict[str, Any]:
    """A native `auth.json` with ChatGPT tokens (snake_case) plus `extra` top-level keys."""
    tokens: dict[str, Any] = {"id_token": ID_TOKEN, "access_token": ACCESS, "refresh_token": REFRESH}
    if account_id is not None:
        tokens["account_id"] = account_id
    doc: dict[str, Any] = {"OPENAI_API_KEY": None, "tokens": tokens}
    if last_refresh is not None:
        doc["last_refresh"] = last_refresh
    doc.update(extra)
    return doc


def write_auth(codex_home: Path, data: dict[str, Any] | list[Any] | str) -> Path:
    """Write `<codex_home>/auth.json` (a dict/list as JSON, a str as is) with mode 0600."""
    codex_home.mkdir(parents=True, exist_ok=True)
    path = codex_home / "auth.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    path.chmod(0o600)
    return path


def home_of(tmp_path: Path) -> Path:
    """The temp HOME of a test (conftest created it)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return home


def context(
    tmp_path: Path,
    upstream: kit.FakeUpstream,
    *,
    env: dict[str, str] | None = None,
    options: dict[str, Any] | None = None,
    account: str | None = None,
    cli: Path | None = None,
) -> FetchContext:
    """A fetch context with HOME in tmp_path, TZ=UTC, and PATH holding only the fake `codex` (if any)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    environment = {"HOME": str(home_of(tmp_path)), "PATH": str(cli.parent if cli else empty), "TZ": "UTC"}
    environment.update(env or {})
    return make_context("codex", upstream, env=environment, options=options, account=account)


# --- a fake `codex` --------------------------------------------------------------------------------

_CLI = '''\
#!{python}
import json, os, signal, sys, time
MODE = {mode!r}
LOG = {log!r}
LIMITS = {limits!r}
ACCOUNT = {account!r}
ERROR = {error!r}

def log(obj):
    with open(LOG, "a") as f:
        f.write(json.dumps(obj) + "\\n")

def send(obj):
    sys.stdout.write(json.dumps(obj) + "\\n")
    sys.stdout.flush()

log({{"argv": sys.argv[1:], "codex_home": os.environ.get("CODEX_HOME"), "pid": os.getpid(),
      "secret_env": sorted(k for k in os.environ if "KEY" in k or "TOKEN" in k)}})
if "ignore-term" in MODE:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if MODE == "exit":
    sys.exit(3)
for line in sys.stdin:
    msg = json.loads(line)
    log({{"in": msg}})
    method, mid = msg.get("method"), msg.get("id")
    if mid is None:
        continue
    if method == "initialize":
        send({{"id": mid, "result": {{"userAgent": "codex_cli_rs/0.99.1 (Linux 6.1; x86_64) synthetic"}}}})
    elif method == "account/rateLimits/read":
        if "hang" in MODE:
            time.sleep(120)
        if MODE == "garbage":
            sys.stdout.write("warning: not json\\n[1, 2]\\n\\n")
            send({{"id": mid, "result": "not an object"}})
        elif ERROR is not None:
            send({{"method": "some/notification", "params": {{}}}})
            send({{"id": mid, "error": {{"code": -32000, "message": ERROR}}}})
        else:
            send({{"method": "some/notification", "params": {{}}}})
            send({{"id": 999, "result": {{}}}})
            send({{"id": mid, "result": LIMITS}})
    elif method == "account/read":
        if MODE == "account-fails":
            send({{"id": mid, "error": {{"message": "account unavailable"}}}})
        else:
            send({{"id": mid, "result": ACCOUNT}})
    else:
        send({{"id": mid, "error": {{"message": "unexpected " + str(method)}}}})
if "ignore-term" in MODE:
    while True:
        time.sleep(1)
'''

RPC_LIMITS: dict[str, Any] = {
    "rateLimits": {
        "planType": "plus",
        "credits": {"hasCredits": True, "unlimited": False, "balance": "42.75"},
        "primary": {"usedPercent": 37.5, "windowDurationMins": 300, "resetsAt": 1795636800},
        "secondary": {"usedPercent": 12, "windowDurationMins": 10080, "resetsAt": 1795996800},
    }
}
RPC_ACCOUNT: dict[str, Any] = {
    "account": {"type": "chatgpt", "email": "sam.rivera@example.org", "planType": "plus"},
    "requiresOpenaiAuth": False,
}


@dataclass(frozen=True)
class FakeCli:
    """A fake `codex` program and the log it writes (argv, CODEX_HOME, every message received)."""

    path: Path
    log: Path

    def records(self) -> list[dict[str, Any]]:
        """Everything the program logged, in order."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def start(self) -> dict[str, Any]:
        """The first record: argv, CODEX_HOME, pid."""
        return self.records()[0]

    def received(self) -> list[dict[str, Any]]:
        """The JSON messages the program read from stdin."""
        return [r["in"] for r in self.records() if "in" in r]


def fake_codex(
    tmp_path: Path,
    mode: str = "normal",
    *,
    folder: str = "bin",
    limits: Any = None,
    account: Any = None,
    error: str | None = None,
) -> FakeCli:
    """Write a fake `codex` speaking the app-server dialogue into tmp_path/<folder>/codex."""
    where = tmp_path / folder
    where.mkdir(parents=True, exist_ok=True)
    path = where / "codex"
    log = where / "codex.log"
    script = _CLI.format(
        python=sys.executable, mode=mode, log=str(log),
        limits=RPC_LIMITS if limits is None else limits,
        account=RPC_ACCOUNT if account is None else account, error=error,
    )
    path.write_text(script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return FakeCli(path, log)


def write_program(tmp_path: Path, body: str, name: str = "codex", folder: str = "tui-bin") -> Path:
    """Write an executable Python program (dedented `body`) named `name`."""
    where = tmp_path / folder
    where.mkdir(parents=True, exist_ok=True)
    path = where / name
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path


def alive(pid: int) -> bool:
    """Whether a process with this id still exists (zombies count as gone only once reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
