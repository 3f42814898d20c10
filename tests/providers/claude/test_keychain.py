"""Claude Code's macOS keychain item through a fake `security` first on PATH: present, missing, garbage,
timeout, denied, hex output, delegated refresh; on Linux the keychain is never consulted."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from codexbard.errors import AuthRequired, NotConfigured
from codexbard.providers.claude import cli, keychain, paths
from codexbard.providers.claude.oauth import ClaudeOAuthStrategy
from tests.providers.claude import fakes
from tests.providers.claude.test_oauth import USAGE, fetch, home_ctx, no_token_endpoint, upstream

ITEM = "the macOS keychain item `Claude Code-credentials`"
ARGS = ["find-generic-password", "-s", "Claude Code-credentials", "-w"]

_SECURITY = r'''#!{python}
import json, os, sys, time
with open({log!r}, "a") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\n")
MODE = {mode!r}
if MODE == "hang":
    time.sleep(30)
if MODE == "denied":
    sys.stderr.write("security: SecKeychainItemCopyContent: user interaction is not allowed.\n")
    sys.exit(51)
if MODE == "garbage":
    print("sk-ant-oat01-LEAKED-partial {{not json")
    sys.exit(0)
if not os.path.exists({item!r}):
    sys.stderr.write("security: SecKeychainSearchCopyNext: The specified item could not be found in the keychain.\n")
    sys.exit(44)
data = open({item!r}).read()
print(data.encode().hex() if MODE == "hex" else data)
'''


class FakeSecurity:
    """A fake `security` program in its own folder: prints `item` (exit 44 when it is absent)."""

    def __init__(self, folder: Path, mode: str = "item") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.item = folder / "item.json"
        self.log = folder / "security.log"
        program = folder / "security"
        program.write_text(_SECURITY.format(python=sys.executable, log=str(self.log), mode=mode, item=str(self.item)))
        program.chmod(0o755)

    def store(self, doc: dict[str, object]) -> None:
        """Put a credentials document into the fake keychain item."""
        self.item.write_text(json.dumps(doc))

    def calls(self) -> list[list[str]]:
        """The argument lists `security` was started with."""
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []

    def env(self, **more: str) -> dict[str, str]:
        """A context environment with this folder first on PATH."""
        return {"PATH": f"{self.folder}:/usr/bin:/bin", **more}


@pytest.fixture
def macos(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "PLATFORM", "darwin")


@pytest.fixture
def linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "PLATFORM", "linux")


async def test_item_present_gives_exact_values_with_one_security_call(
    clean_env: Path, tmp_path: Path, macos: None
) -> None:
    security = FakeSecurity(tmp_path / "bin")
    security.store(fakes.credentials())
    up = upstream()
    strategy = ClaudeOAuthStrategy()
    ctx = home_ctx(clean_env, up, env=security.env())
    availability = await strategy.available(ctx)
    assert (availability.ok, availability.reason) == (True, f"Claude Code credentials in {ITEM}")
    snapshot = await strategy.fetch(ctx)
    assert security.calls() == [ARGS]  # available() and fetch() share one read
    assert up.requests[0].headers["authorization"] == f"Bearer {fakes.ACCESS}"
    assert snapshot.primary is not None and snapshot.primary.used_percent == 23.0
    assert snapshot.secondary is not None and snapshot.secondary.used_percent == 41.0
    assert snapshot.identity is not None and snapshot.identity.login_method == "Claude Max 20x"
    assert keychain.keychain_argv(ctx) == [str(tmp_path / "bin" / "security"), *ARGS]
    no_token_endpoint(up)


async def test_hex_output_is_decoded(clean_env: Path, tmp_path: Path, macos: None) -> None:
    security = FakeSecurity(tmp_path / "bin", "hex")
    security.store(fakes.credentials(access="sk-ant-oat01-HEXPAYLOAD-token"))
    up = upstream()
    await fetch(ClaudeOAuthStrategy(), home_ctx(clean_env, up, env=security.env()))
    assert up.requests[0].headers["authorization"] == "Bearer sk-ant-oat01-HEXPAYLOAD-token"


async def test_the_file_wins_and_the_keychain_is_not_read(clean_env: Path, tmp_path: Path, macos: None) -> None:
    security = FakeSecurity(tmp_path / "bin")
    security.store(fakes.credentials(access="sk-ant-oat01-KEYCHAIN-token"))
    fakes.write_credentials(clean_env / ".claude", fakes.credentials())
    up = upstream()
    await fetch(ClaudeOAuthStrategy(), home_ctx(clean_env, up, env=security.env()))
    assert up.requests[0].headers["authorization"] == f"Bearer {fakes.ACCESS}"
    assert security.calls() == []


async def test_item_missing_is_not_configured(clean_env: Path, tmp_path: Path, macos: None) -> None:
    security = FakeSecurity(tmp_path / "bin")
    strategy = ClaudeOAuthStrategy()
    up = upstream()
    ctx = home_ctx(clean_env, up, env=security.env())
    message = (f"Claude Code credentials not found ({clean_env / '.claude' / '.credentials.json'} or {ITEM}); "
               "run `claude` and log in")
    availability = await strategy.available(ctx)
    assert (availability.ok, availability.reason) == (False, message)
    with pytest.raises(NotConfigured) as caught:
        await strategy.fetch(ctx)
    assert caught.value.message == message
    assert security.calls() == [ARGS]
    assert up.requests == []


async def test_garbage_is_auth_required_and_never_echoed(clean_env: Path, tmp_path: Path, macos: None) -> None:
    security = FakeSecurity(tmp_path / "bin", "garbage")
    up = upstream()
    strategy = ClaudeOAuthStrategy()
    ctx = home_ctx(clean_env, up, env=security.env())
    assert (await strategy.available(ctx)).ok  # the item is there; fetch says what is wrong with it
    with pytest.raises(AuthRequired) as caught:
        await strategy.fetch(ctx)
    assert caught.value.message == (
        f"Claude Code credentials in {ITEM} are not valid JSON; run `claude` and log in again")
    assert "LEAKED" not in repr(caught.value) and "LEAKED" not in str(caught.value)
    assert up.requests == []


async def test_denied_access_is_auth_required(clean_env: Path, tmp_path: Path, macos: None) -> None:
    security = FakeSecurity(tmp_path / "bin", "denied")
    with pytest.raises(AuthRequired) as caught:
        await fetch(ClaudeOAuthStrategy(), home_ctx(clean_env, upstream(), env=security.env()))
    assert caught.value.message == (
        f"macOS `security` could not read {ITEM} (exit status 51; the keychain may be locked or access was "
        "denied); unlock the keychain or run `claude` and log in again")


async def test_timeout_is_auth_required_and_the_child_is_killed(
    clean_env: Path, tmp_path: Path, macos: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keychain, "KEYCHAIN_TIMEOUT", 0.5)
    security = FakeSecurity(tmp_path / "bin", "hang")
    up = upstream()
    with pytest.raises(AuthRequired) as caught:
        await fetch(ClaudeOAuthStrategy(), home_ctx(clean_env, up, env=security.env()))
    assert caught.value.message == (
        f"reading {ITEM} took longer than 0.5 s (the keychain may be locked or waiting for you to allow access); "
        "unlock it and allow `security` to read the item")
    assert security.calls() == [ARGS]
    assert up.requests == []


async def test_on_linux_the_keychain_is_never_consulted(clean_env: Path, tmp_path: Path, linux: None) -> None:
    security = FakeSecurity(tmp_path / "bin")
    security.store(fakes.credentials())
    strategy = ClaudeOAuthStrategy()
    ctx = home_ctx(clean_env, upstream(), env=security.env())
    path = clean_env / ".claude" / ".credentials.json"
    message = f"Claude Code credentials not found ({path}); run `claude` and log in"
    assert (await strategy.available(ctx)).reason == message
    with pytest.raises(NotConfigured) as caught:
        await strategy.fetch(ctx)
    assert caught.value.message == message
    assert await keychain.read_keychain(ctx) is None
    assert security.calls() == []
    assert not security.log.exists()


@pytest.fixture
def quick_dialogue(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"startup": 0.2, "delegate_enter": 0.1, "delegate_settle": 0.05,
                        "delegate_timeout": 8.0}.items():
        monkeypatch.setattr(cli.TIMING, name, value)


async def test_expired_keychain_credentials_are_refreshed_by_delegation(
    clean_env: Path, tmp_path: Path, macos: None, quick_dialogue: None
) -> None:
    security = FakeSecurity(tmp_path / "bin")
    security.store(fakes.credentials(expires=fakes.PAST_MS))
    program, log = fakes.fake_claude(tmp_path / "claude", "refresh", creds=security.item)
    up = upstream()
    ctx = home_ctx(clean_env, up, env=security.env(CLAUDE_CLI_PATH=str(program)))
    snapshot = await fetch(ClaudeOAuthStrategy(), ctx)
    assert snapshot.primary is not None and snapshot.primary.used_percent == 23.0
    assert up.urls[0] == USAGE
    assert up.requests[0].headers["authorization"] == f"Bearer {fakes.NEW_ACCESS}"
    assert fakes.typed_lines(log) == ["/status", "y", "/status", "/exit"]  # it stopped once the item changed
    assert len(security.calls()) >= 3 and all(call == ARGS for call in security.calls())
    assert not (clean_env / ".claude" / ".credentials.json").exists()  # codexbard wrote no file
    no_token_endpoint(up)


async def test_failed_keychain_delegation_names_the_item(
    clean_env: Path, tmp_path: Path, macos: None, quick_dialogue: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli.TIMING, "delegate_timeout", 1.0)
    security = FakeSecurity(tmp_path / "bin")
    security.store(fakes.credentials(expires=fakes.PAST_MS))
    program, _ = fakes.fake_claude(tmp_path / "claude", "nothing")
    up = upstream()
    with pytest.raises(AuthRequired) as caught:
        await fetch(ClaudeOAuthStrategy(), home_ctx(clean_env, up, env=security.env(CLAUDE_CLI_PATH=str(program))))
    assert caught.value.message == (
        f"Claude Code credentials in {ITEM} have expired and `claude` did not refresh them; "
        "run `claude` to log in again")
    assert up.requests == []
