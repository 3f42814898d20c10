"""Tests for codexbard.host.credfile: reading tools' JSON credential files, expiry, write-back, single flight,
and credential change detection through the files a strategy read."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from codexbard.config import Paths, Settings
from codexbard.host import credfile
from codexbard.host.clock import FixedClock
from codexbard.host.credentials import MemorySecretStore, Secret
from codexbard.host.credfile import (
    CredentialConflict,
    CredentialDoc,
    CredentialFileError,
    CredentialFiles,
    ExpiryState,
    SingleFlight,
    WatchedFiles,
    expiry_status,
    key_variants,
    read_credential_file,
)
from codexbard.models import UsageSnapshot
from codexbard.providers.base import ApiKey, ApiKeyStrategy, Availability, FetchContext, ProviderSpec, Strategy
from codexbard.providers.registry import Registry
from codexbard.runtime import Runtime
from tests.helpers import NOW

CODEX_AUTH: dict[str, Any] = {
    "OPENAI_API_KEY": None,
    "tokens": {
        "id_token": "eyJhbGciOiJSUzI1NiJ9.SYNTHETIC-ID-PAYLOAD.sig",
        "access_token": "eyJhbGciOiJSUzI1NiJ9.SYNTHETIC-ACCESS-PAYLOAD.sig",
        "refresh_token": "rt_synthetic_0123456789",
        "account_id": "acct-synthetic-7f3a",
    },
    "last_refresh": "2026-03-02T08:15:42.123Z",
    "unknown_future_key": {"nested": [1, 2, {"x": True}]},
}

CLAUDE_CREDS: dict[str, Any] = {
    "claudeAiOauth": {
        "accessToken": "sk-ant-oat01-SYNTHETIC-access-token",
        "refreshToken": "sk-ant-ort01-SYNTHETIC-refresh-token",
        "expiresAt": 1772467200000,
        "scopes": ["user:inference", "user:profile"],
        "subscriptionType": "max",
        "rateLimitTier": "default_claude_max_5x",
    },
    "mcpOAuth": {"server": {"token": "mcp-secret"}},
}


def write_json(path: Path, data: Any, *, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    path.chmod(mode)
    return path


# --- key paths ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "variants"),
    [
        ("tokens.access_token", ("tokens.access_token", "tokens.accessToken")),
        ("tokens.accessToken", ("tokens.accessToken", "tokens.access_token")),
        ("claudeAiOauth.expiresAt", ("claudeAiOauth.expiresAt", "claude_ai_oauth.expires_at")),
        ("last_refresh", ("last_refresh", "lastRefresh")),
        ("OPENAI_API_KEY", ("OPENAI_API_KEY",)),
        ("email", ("email",)),
        ("personal_access_token", ("personal_access_token", "personalAccessToken")),
    ],
)
def test_key_variants(path: str, variants: tuple[str, ...]) -> None:
    assert key_variants(path) == variants


# --- reading ------------------------------------------------------------------------------------------------


def test_read_codex_auth_json(tmp_path: Path) -> None:
    path = write_json(tmp_path / ".codex" / "auth.json", CODEX_AUTH)
    doc = read_credential_file(path)
    assert doc.path == path
    assert doc.string("tokens.account_id") == "acct-synthetic-7f3a"
    access = doc.secret("tokens.access_token")
    assert isinstance(access, Secret)
    assert access.reveal() == "eyJhbGciOiJSUzI1NiJ9.SYNTHETIC-ACCESS-PAYLOAD.sig"
    assert access.origin == f"file {path}"
    assert doc.value("OPENAI_API_KEY") is None
    assert doc.secret("OPENAI_API_KEY") is None
    assert doc.value("unknown_future_key") == {"nested": [1, 2, {"x": True}]}
    assert doc.expiry("last_refresh") == datetime(2026, 3, 2, 8, 15, 42, 123000, tzinfo=UTC)
    assert doc.identity.size == path.stat().st_size
    # Nothing prints a value.
    for text in (repr(doc), str(doc), repr(access), str(access)):
        assert "rt_synthetic" not in text
        assert "SYNTHETIC-ACCESS" not in text
    keys = "['OPENAI_API_KEY', 'last_refresh', 'tokens', 'unknown_future_key']"
    assert repr(doc) == f"CredentialDoc({path}, keys={keys})"


def test_camel_case_and_snake_wins(tmp_path: Path) -> None:
    camel = read_credential_file(
        write_json(tmp_path / "a.json", {"tokens": {"accessToken": "camel", "refreshToken": "r", "idToken": ""}})
    )
    assert camel.string("tokens.access_token") == "camel"
    assert camel.string("tokens.id_token") is None  # empty strings count as missing
    both = read_credential_file(
        write_json(tmp_path / "b.json", {"tokens": {"accessToken": "camel", "access_token": "snake"}})
    )
    assert both.string("tokens.access_token") == "snake"
    assert both.string("tokens.accessToken") == "camel"  # as written first, then the variant
    blank_snake = read_credential_file(
        write_json(tmp_path / "c.json", {"tokens": {"accessToken": "camel", "access_token": "  "}})
    )
    assert blank_snake.string("tokens.access_token") == "camel"
    pat = read_credential_file(write_json(tmp_path / "d.json", {"personalAccessToken": " pat-1 "}))
    secret = pat.secret("personal_access_token")
    assert secret is not None
    assert secret.reveal() == "pat-1"
    assert pat.value("tokens.access_token", "accessToken") is None
    assert pat.string("personalAccessToken.deeper") is None  # a path through a string


def test_read_claude_credentials_and_expiry_forms(tmp_path: Path) -> None:
    doc = read_credential_file(write_json(tmp_path / ".claude" / ".credentials.json", CLAUDE_CREDS))
    expected = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    assert doc.expiry("claudeAiOauth.expiresAt") == expected
    assert doc.expiry("claudeAiOauth.expiresAt", unit="ms") == expected
    assert doc.value("claudeAiOauth.scopes") == ["user:inference", "user:profile"]
    forms = {
        "s": 1772467200,
        "ms": 1772467200000,
        "s_float": 1772467200.0,
        "ms_str": "1772467200000",
        "iso": "2026-03-02T16:00:00Z",
        "iso_offset": "2026-03-02T17:00:00+01:00",
        "bool": True,
        "nan": "nan",
        "junk": "soon",
        "list": [1],
        "zero": 0,
    }
    doc = read_credential_file(write_json(tmp_path / "forms.json", forms))
    for key in ("s", "ms", "s_float", "ms_str", "iso", "iso_offset"):
        assert doc.expiry(key) == expected, key
    for key in ("bool", "nan", "junk", "list", "zero", "missing"):
        assert doc.expiry(key) is None, key
    assert doc.expiry("s", unit="s") == expected
    assert doc.expiry("ms", unit="ms") == expected
    assert doc.expiry("ms_str", unit="ms") == expected
    assert doc.expiry("iso", unit="ms") == expected  # an ISO string is still an ISO string
    assert doc.expiry("nan", unit="ms") is None
    assert doc.expiry("junk", unit="s") is None


@pytest.mark.parametrize(
    ("content", "reason", "message"),
    [
        (None, "not_found", "PATH does not exist"),
        (b"{not json, secret-token-123", "decode_failed", "PATH is not valid JSON"),
        (b"\xff\xfe{}", "decode_failed", "PATH is not valid JSON"),
        (b"[1, 2]", "not_object", "PATH does not hold a JSON object"),
        (b"null", "not_object", "PATH does not hold a JSON object"),
        (b"[" * 900, "decode_failed", "PATH is not valid JSON"),
        (b"{}" + b" " * 2000, "too_large", "PATH is too large to be a credential file (over 1000 bytes)"),
    ],
)
def test_read_errors(tmp_path: Path, content: bytes | None, reason: str, message: str) -> None:
    path = tmp_path / "auth.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CredentialFileError) as info:
        read_credential_file(path, limit=1000)
    assert info.value.reason == reason
    assert str(info.value) == message.replace("PATH", str(path))
    assert "secret-token" not in str(info.value)


def test_deeply_nested_json_is_decode_failed(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(b'{"a":' + b"[" * 200_000 + b"]" * 200_000 + b"}")
    with pytest.raises(CredentialFileError) as info:
        read_credential_file(path)
    assert info.value.reason == "decode_failed"


def test_read_a_directory_and_a_bom(tmp_path: Path) -> None:
    with pytest.raises(CredentialFileError) as info:
        read_credential_file(tmp_path)
    assert info.value.reason == "unreadable"
    assert str(info.value) == f"{tmp_path} cannot be read (not a regular file)"
    bom = tmp_path / "bom.json"
    bom.write_bytes(b'\xef\xbb\xbf{"a": "b"}')
    assert read_credential_file(bom).string("a") == "b"


async def test_read_runs_off_the_loop_and_registers_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    real = credfile.read_credential_file

    def spy(path: Path, *, limit: int) -> CredentialDoc:
        threads.append(threading.current_thread().name)
        return real(path, limit=limit)

    monkeypatch.setattr(credfile, "read_credential_file", spy)
    path = write_json(tmp_path / "auth.json", CODEX_AUTH)
    watch = WatchedFiles()
    files = CredentialFiles()
    doc = await files.read(path, watch=watch)
    assert doc.string("tokens.account_id") == "acct-synthetic-7f3a"
    with pytest.raises(CredentialFileError):
        await files.read(tmp_path / "missing.json", watch=watch)
    assert len(threads) == 2
    assert threading.main_thread().name not in threads
    assert watch.paths() == (path, tmp_path / "missing.json")  # watched even while absent


# --- expiry -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "within", "missing", "state", "left", "text"),
    [
        (3600, 60, ExpiryState.UNKNOWN, ExpiryState.VALID, 3600.0, "valid for 3600 s"),
        (61, 60, ExpiryState.UNKNOWN, ExpiryState.VALID, 61.0, "valid for 61 s"),
        (60, 60, ExpiryState.UNKNOWN, ExpiryState.EXPIRING, 60.0, "expires within 60 s"),
        (1, 60, ExpiryState.UNKNOWN, ExpiryState.EXPIRING, 1.0, "expires within 60 s"),
        (1, 0, ExpiryState.UNKNOWN, ExpiryState.VALID, 1.0, "valid for 1 s"),
        (0, 0, ExpiryState.UNKNOWN, ExpiryState.EXPIRED, 0.0, "expired"),  # now >= expiresAt: expired
        (-30, 60, ExpiryState.UNKNOWN, ExpiryState.EXPIRED, -30.0, "expired 30 s ago"),
        (None, 60, ExpiryState.UNKNOWN, ExpiryState.UNKNOWN, None, "expiry unknown"),
        (None, 60, ExpiryState.EXPIRED, ExpiryState.EXPIRED, None, "no expiry recorded"),  # Claude's rule
    ],
)
def test_expiry_status(
    offset: int | None, within: float, missing: ExpiryState, state: ExpiryState, left: float | None, text: str
) -> None:
    expires = None if offset is None else NOW + timedelta(seconds=offset)
    result = expiry_status(expires, NOW, within=within, missing=missing)
    assert result.state is state
    assert result.seconds_left == left
    assert result.describe() == text
    assert result.usable is (state in (ExpiryState.VALID, ExpiryState.UNKNOWN))


# --- write-back ---------------------------------------------------------------------------------------------


def test_write_back_keeps_every_other_key_and_is_0600(tmp_path: Path) -> None:
    path = write_json(tmp_path / ".codex" / "auth.json", CODEX_AUTH, mode=0o644)
    doc = read_credential_file(path)
    new = credfile.write_back_blocking(
        doc,
        {
            "tokens.access_token": "new-access",
            "tokens.refresh_token": "new-refresh",
            "last_refresh": "2026-11-25T18:00:00Z",
        },
    )
    on_disk = json.loads(path.read_text())
    expected = json.loads(json.dumps(CODEX_AUTH))
    expected["tokens"].update(access_token="new-access", refresh_token="new-refresh")
    expected["last_refresh"] = "2026-11-25T18:00:00Z"
    assert on_disk == expected
    assert list(on_disk) == list(CODEX_AUTH)  # key order kept
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert new.data == expected
    assert new.path == path
    assert new.identity.ino == path.stat().st_ino
    assert [p.name for p in path.parent.iterdir()] == ["auth.json"]  # no temp file left behind


def test_write_back_keeps_the_files_spelling_and_adds_missing_keys(tmp_path: Path) -> None:
    path = write_json(tmp_path / ".credentials.json", CLAUDE_CREDS)
    doc = read_credential_file(path)
    credfile.write_back_blocking(
        doc,
        {"claudeAiOauth.access_token": "sk-ant-oat01-new", "claudeAiOauth.expires_at": 1772470800000,
         "claudeAiOauth.newField": "added", "brand.new.path": 1},
    )  # fmt: skip
    on_disk = json.loads(path.read_text())
    assert on_disk["claudeAiOauth"] == {
        **CLAUDE_CREDS["claudeAiOauth"],
        "accessToken": "sk-ant-oat01-new",
        "expiresAt": 1772470800000,
        "newField": "added",
    }
    assert on_disk["brand"] == {"new": {"path": 1}}
    assert on_disk["mcpOAuth"] == CLAUDE_CREDS["mcpOAuth"]


def test_write_back_through_a_symlink_writes_the_target(tmp_path: Path) -> None:
    target = write_json(tmp_path / "real" / "auth.json", CODEX_AUTH)
    link = tmp_path / "linked" / "auth.json"
    link.parent.mkdir()
    link.symlink_to(target)
    new = credfile.write_back_blocking(read_credential_file(link), {"tokens.access_token": "via-link"})
    assert link.is_symlink()
    assert json.loads(target.read_text())["tokens"]["access_token"] == "via-link"
    assert new.path == link


def test_write_back_merges_changes_elsewhere(tmp_path: Path) -> None:
    path = write_json(tmp_path / "auth.json", CODEX_AUTH)
    doc = read_credential_file(path)
    theirs = json.loads(json.dumps(CODEX_AUTH))
    theirs["added_by_the_cli"] = "keep me"
    theirs["tokens"]["id_token"] = "their-new-id-token"  # a value we do not write
    write_json(path, theirs)
    credfile.write_back_blocking(doc, {"tokens.access_token": "ours"})
    on_disk = json.loads(path.read_text())
    assert on_disk["added_by_the_cli"] == "keep me"
    assert on_disk["tokens"]["id_token"] == "their-new-id-token"
    assert on_disk["tokens"]["access_token"] == "ours"


def test_write_back_refuses_when_someone_else_refreshed(tmp_path: Path) -> None:
    path = write_json(tmp_path / "auth.json", CODEX_AUTH)
    doc = read_credential_file(path)
    theirs = json.loads(json.dumps(CODEX_AUTH))
    theirs["tokens"]["refresh_token"] = "rt_rotated_by_the_cli"
    write_json(path, theirs)
    before = path.read_bytes()
    with pytest.raises(CredentialConflict) as info:
        credfile.write_back_blocking(doc, {"tokens.access_token": "ours", "tokens.refresh_token": "ours-too"})
    assert path.read_bytes() == before  # theirs stays
    assert info.value.current is not None
    assert info.value.current.string("tokens.refresh_token") == "rt_rotated_by_the_cli"
    assert str(info.value) == f"{path} changed since it was read (`tokens.refresh_token` differs); not overwriting it"
    assert "rt_" not in str(info.value)


def test_write_back_refuses_when_the_file_was_removed_or_a_parent_is_not_an_object(tmp_path: Path) -> None:
    path = write_json(tmp_path / "auth.json", CODEX_AUTH)
    doc = read_credential_file(path)
    path.unlink()
    with pytest.raises(CredentialConflict) as info:
        credfile.write_back_blocking(doc, {"tokens.access_token": "x"})
    assert info.value.current is None
    assert not path.exists()
    write_json(path, {"tokens": "a string"})
    doc = read_credential_file(path)
    with pytest.raises(CredentialConflict) as conflict:
        credfile.write_back_blocking(doc, {"tokens.access_token": "x"})
    assert str(conflict.value) == f"{path} changed since it was read (`tokens` is not an object); not overwriting it"


async def test_write_back_async(tmp_path: Path) -> None:
    path = write_json(tmp_path / "auth.json", CODEX_AUTH)
    files = CredentialFiles()
    doc = await files.read(path)
    new = await files.write_back(doc, {"last_refresh": "2026-11-25T18:00:00Z"})
    assert new.string("last_refresh") == "2026-11-25T18:00:00Z"
    assert (await files.read(path)).digest == new.digest


# --- single flight ------------------------------------------------------------------------------------------


async def test_concurrent_refreshes_run_once(tmp_path: Path) -> None:
    path = write_json(tmp_path / "auth.json", CODEX_AUTH)
    files = CredentialFiles()
    calls = 0
    release = asyncio.Event()

    async def refresh() -> str:
        nonlocal calls
        calls += 1
        number = calls
        await release.wait()
        doc = await files.read(path)
        new = await files.write_back(doc, {"tokens.access_token": f"refreshed-{number}"})
        return new.string("tokens.access_token") or ""

    polls = [asyncio.create_task(files.refresh_once(path, None, refresh)) for _ in range(5)]
    other_account = asyncio.create_task(files.refresh_once(path, "work", refresh))
    await asyncio.sleep(0.05)
    release.set()
    assert await asyncio.gather(*polls) == ["refreshed-1"] * 5
    assert await other_account == "refreshed-2"
    assert calls == 2
    # Once done, the next refresh runs again.
    assert await files.refresh_once(path, None, refresh) == "refreshed-3"


async def test_single_flight_shares_errors_and_survives_a_cancelled_caller() -> None:
    flights = SingleFlight()
    started = asyncio.Event()
    release = asyncio.Event()
    calls = 0

    async def failing() -> int:
        nonlocal calls
        calls += 1
        started.set()
        await release.wait()
        raise RuntimeError("refresh rejected")

    first = asyncio.create_task(flights.run("k", failing))
    await started.wait()
    second = asyncio.create_task(flights.run("k", failing))
    third = asyncio.create_task(flights.run("k", failing))
    await asyncio.sleep(0)
    assert flights.running("k")
    first.cancel()  # one poll gives up; the refresh itself goes on for the others
    await asyncio.sleep(0)
    release.set()
    for task in (second, third):
        with pytest.raises(RuntimeError, match="refresh rejected"):
            await task
    with pytest.raises(asyncio.CancelledError):
        await first
    assert calls == 1
    assert not flights.running("k")


# --- change detection ---------------------------------------------------------------------------------------


def test_watched_files_stamp(tmp_path: Path) -> None:
    watch = WatchedFiles()
    path = tmp_path / "auth.json"
    watch.add(path)
    watch.add(path)
    assert watch.paths() == (path,)
    absent = watch.stamp()
    assert absent == f"{path}\0absent\0".encode()
    path.write_text("{}")
    st = path.stat()
    assert watch.stamp() == f"{path}\0{st.st_mtime_ns}\0{st.st_size}\0{st.st_ino}\0".encode()


class ToolFileStrategy(Strategy):
    """Available when a tool's own JSON credential file holds a token (the file is registered on the context)."""

    id = "oauth"
    kind = "oauth"
    source_label = "oauth"

    async def available(self, ctx: FetchContext) -> Availability:
        path = ctx.files.tool_dir(("TOOL_HOME",), "~/.tool") / "auth.json"
        try:
            doc = await ctx.credential_files.read(path, watch=ctx.watched_files)
        except CredentialFileError as exc:
            return Availability.no(str(exc))
        return Availability.yes("token found") if doc.secret("tokens.access_token") else Availability.no("no token")

    async def fetch(self, ctx: FetchContext) -> UsageSnapshot:
        raise AssertionError("not polled here")


class KeyFileStrategy(ApiKeyStrategy):
    key = ApiKey("Tool", env_vars=("TOOL_API_KEY",), files=("~/.config/bigmodel/api_key",))

    async def fetch_with_key(self, ctx: FetchContext, key: Secret) -> UsageSnapshot:
        raise AssertionError("not polled here")


TOOL = ProviderSpec(id="tool", display_name="Tool", strategies=(ToolFileStrategy(), KeyFileStrategy()))


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    config_dir = tmp_path / "cfg"
    paths = Paths(config_file=config_dir / "config.toml", config_dir=config_dir, data_dir=tmp_path / "data")
    made = Runtime(
        Settings(),
        paths,
        {"HOME": os.environ["HOME"]},
        registry=Registry((TOOL,)),
        secret_store=MemorySecretStore(),
        clock=FixedClock(NOW),
    )
    yield made
    await made.aclose()


async def changed(runtime: Runtime, before: str) -> str:
    (target,) = runtime.targets_for("tool")
    after = await runtime.credential_fingerprint(target)
    assert after != before
    return after


async def test_fingerprint_sees_a_token_edited_inside_a_tools_file(runtime: Runtime) -> None:
    (target,) = runtime.targets_for("tool")
    home = Path(os.environ["HOME"])
    auth = write_json(home / ".tool" / "auth.json", {"tokens": {"access_token": "one"}})
    first = await runtime.credential_fingerprint(target)
    assert runtime.watched_files(target).paths() == (auth,)
    assert await runtime.credential_fingerprint(target) == first  # nothing changed: same fingerprint
    # The tool refreshes its token in place: availability is still "token found", the file is not.
    await asyncio.sleep(0.02)
    write_json(auth, {"tokens": {"access_token": "two"}})
    second = await changed(runtime, first)
    # Same size, rewritten atomically (a new inode), as tools do.
    await asyncio.sleep(0.02)
    tmp = auth.with_suffix(".tmp")
    write_json(tmp, {"tokens": {"access_token": "six"}})
    tmp.replace(auth)
    third = await changed(runtime, second)
    auth.unlink()
    await changed(runtime, third)


async def test_fingerprint_sees_an_api_key_file_edited_in_place(runtime: Runtime) -> None:
    (target,) = runtime.targets_for("tool")
    key_file = Path(os.environ["HOME"]) / ".config" / "bigmodel" / "api_key"
    key_file.parent.mkdir(parents=True)
    key_file.write_text("key-one\n")
    first = await runtime.credential_fingerprint(target)
    await asyncio.sleep(0.02)
    key_file.write_text("key-two-longer\n")  # availability reason stays "API key from file ..."
    second = await changed(runtime, first)
    assert await runtime.credential_fingerprint(target) == second


async def test_contexts_share_the_credential_service_and_the_accounts_watch(runtime: Runtime) -> None:
    (target,) = runtime.targets_for("tool")
    one, two = runtime.context(target), runtime.context(target)
    assert one.credential_files is two.credential_files is runtime.credential_files
    assert one.watched_files is two.watched_files is runtime.watched_files(target)
