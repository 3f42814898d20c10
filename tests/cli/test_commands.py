"""`codexbard providers`, `status`, `doctor`, `history`, and argument errors."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from codexbard import __version__
from codexbard.host.clock import FixedClock
from codexbard.models import FetchError, RateWindow, UsageSnapshot
from codexbard.providers.registry import default_registry
from codexbard.store import Store
from tests.cli import base_env, config_file, known_ids, run, secrets_file, store_note
from tests.helpers import NOW

KEY = "zai-doctor-secret-3456"
OR_KEY = "sk-or-doctor-secret-7890"
RESET = NOW + timedelta(hours=2)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("codexbard.runtime.Clock", lambda: FixedClock(NOW))


def from_header(lines: list[str], header: str) -> list[str]:
    """The lines from one provider's header on (providers are listed in registry order, Claude first)."""
    return lines[lines.index(header):]


def database(home: Path) -> Path:
    return home / ".local" / "share" / "codexbard" / "codexbard.db"


def seed_database(home: Path) -> None:
    """Two zai samples (17:00 and 17:30), then a failed poll at 17:45."""

    async def seed() -> None:
        store = await Store.open(database(home), clock=FixedClock(NOW))
        try:
            for minutes, used in ((60, 20.0), (30, 35.5)):
                snapshot = UsageSnapshot(primary=RateWindow(used_percent=used, window_minutes=300, resets_at=RESET))
                await store.save_success("zai", None, snapshot, "api", NOW - timedelta(minutes=minutes))
            error = FetchError.of("unavailable", "z.ai is unavailable (HTTP 503)")
            await store.save_failure("zai", None, error, NOW - timedelta(minutes=15))
        finally:
            await store.close()

    asyncio.run(seed())


# --------------------------------------------------------------------------------------------- providers


def test_providers_json_lists_every_provider(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = base_env(clean_env, Z_AI_API_KEY=KEY)
    result = run(capsys, env, "providers", "--format", "json")
    assert result.code == 0
    assert result.err == ""
    infos = result.json()
    ids = default_registry().ids()
    assert [i["id"] for i in infos] == ids
    assert [i["enabled"] for i in infos] == [provider_id == "zai" for provider_id in ids]
    zai = next(i for i in infos if i["id"] == "zai")
    assert zai == {
        "id": "zai",
        "displayName": "z.ai",
        "enabled": True,
        "enabledReason": "credentials detected",
        "enableHint": "Set Z_AI_API_KEY or run `codexbard config set-secret --provider zai`.",
        "configuredSource": "auto",
        "strategies": [{"id": "api", "kind": "api", "sourceLabel": "api", "available": True,
                        "reason": "API key from env Z_AI_API_KEY"}],
        "intervalSeconds": 300,
        "lastAttemptAt": None,
        "lastSuccessAt": None,
        "nextRunAt": None,
        "consecutiveFailures": 0,
        "lastError": None,
        "lastAttempts": [],
        "dashboardUrl": "https://z.ai/manage-apikey/coding-plan/personal/my-plan",
        "statusUrl": None,
        "accounts": [],
    }
    openrouter = next(i for i in infos if i["id"] == "openrouter")
    assert openrouter["statusUrl"] == "https://status.openrouter.ai"
    assert openrouter["strategies"][0]["available"] is False
    assert "OPENROUTER_API_KEY" in openrouter["strategies"][0]["reason"]
    assert KEY not in result.out


def test_providers_json_shows_config_choices(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_file(clean_env).parent.mkdir(parents=True)
    config_file(clean_env).write_text(
        "[providers.warp]\nenabled = false\ninterval_seconds = 900\n"
        "[providers.zai]\nsource = \"api\"\n[[providers.zai.accounts]]\nlabel = \"work\"\n"
    )
    result = run(capsys, base_env(clean_env), "providers", "--format", "json")
    assert result.code == 0
    infos = {i["id"]: i for i in result.json()}
    assert infos["warp"]["enabledReason"] == "disabled in config"
    assert infos["warp"]["intervalSeconds"] == 900
    assert infos["zai"]["configuredSource"] == "api"
    assert infos["zai"]["accounts"] == ["work"]


def test_providers_text(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = base_env(clean_env, Z_AI_API_KEY=KEY)
    result = run(capsys, env, "providers")
    assert result.code == 0
    assert result.err == ""
    lines = result.out.splitlines()
    headers = [line for line in lines if not line.startswith(" ")]
    assert headers == [f"{s.id:<12} {'enabled' if s.id == 'zai' else 'disabled'}" for s in default_registry()]
    assert from_header(lines, "zai          enabled")[:2] == [
        "zai          enabled", "    api (api) available: API key from env Z_AI_API_KEY"]
    for header, reason in [
        ("kimik2       disabled",
         "    api (api) unavailable: Kimi K2 API key not found (looked in env KIMI_K2_API_KEY, "),
        ("warp         disabled", "    api (api) unavailable: Warp API key not found (looked in env WARP_API_KEY, "),
        ("openrouter   disabled", "    api (api) unavailable: OpenRouter API key not found (looked in env "),
    ]:
        assert lines[lines.index(header) + 1].startswith(reason)
    # the hint is already part of each API-key reason, so no extra "how to enable" line
    assert not any(line.startswith("    how to enable") for line in from_header(lines, "zai          enabled"))
    assert KEY not in result.out


def test_providers_text_adds_the_hint_when_disabled_in_config(clean_env: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    config_file(clean_env).parent.mkdir(parents=True)
    config_file(clean_env).write_text("[providers.zai]\nenabled = false\n")
    result = run(capsys, base_env(clean_env, Z_AI_API_KEY=KEY), "providers")
    assert result.code == 0
    assert from_header(result.out.splitlines(), "zai          disabled")[:3] == [
        "zai          disabled",
        "    api (api) available: API key from env Z_AI_API_KEY",
        "    how to enable: Set Z_AI_API_KEY or run `codexbard config set-secret --provider zai`.",
    ]


def test_providers_bad_format_exit_2(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, base_env(clean_env), "providers", "--format", "flat")
    assert result.code == 2
    assert result.out == ""


# ------------------------------------------------------------------------------------------------ status


def test_status_json_without_enabled_providers_is_empty(clean_env: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, base_env(clean_env), "status", "--format", "json")
    assert result.code == 0
    assert result.out == "[]\n"
    assert result.err == ""


def test_status_json_enabled_provider_without_status_source_is_left_out(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run(capsys, base_env(clean_env, Z_AI_API_KEY=KEY), "status", "--format", "json")
    assert result.code == 0
    assert result.json() == []


def test_status_json_link_only_source(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = base_env(clean_env, Z_AI_API_KEY=KEY, OPENROUTER_API_KEY=OR_KEY)
    result = run(capsys, env, "status", "--format", "json")
    assert result.code == 0
    assert result.json() == [{"provider": "openrouter", "kind": "link", "indicator": None, "description": None,
                              "updatedAt": None, "url": "https://status.openrouter.ai"}]
    assert OR_KEY not in result.out + result.err


def test_status_text(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = run(capsys, base_env(clean_env), "status")
    assert empty.code == 0
    assert empty.out == "No enabled provider has a status source.\n"
    linked = run(capsys, base_env(clean_env, OPENROUTER_API_KEY=OR_KEY), "status")
    assert linked.code == 0
    assert linked.out == "openrouter   link          https://status.openrouter.ai\n"


# ------------------------------------------------------------------------------------------------ doctor


def test_doctor_names_where_credentials_were_found_never_the_value(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run(capsys, base_env(clean_env, Z_AI_API_KEY=KEY), "doctor")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[:5] == [
        f"codexbard {__version__}",
        f"config file:   {config_file(clean_env)} (absent; defaults in use)",
        f"database:      {database(clean_env)} (not created yet)",
        f"secret store:  {store_note(clean_env)}",
        "",
    ]
    assert from_header(lines, "zai: enabled")[:2] == ["zai: enabled", "  ok api: API key from env Z_AI_API_KEY"]
    assert "kimik2: disabled" in lines
    assert "warp: disabled" in lines
    assert "openrouter: disabled" in lines
    assert any(line.startswith("  -- api: OpenRouter API key not found") for line in lines)
    assert KEY not in result.out
    assert KEY not in result.err


def test_doctor_shows_the_config_file_overrides_and_store_origin(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file(clean_env).parent.mkdir(parents=True)
    config_file(clean_env).write_text('[upstream_overrides]\n"https://api.z.ai" = "http://127.0.0.1:9/zai"\n')
    secrets_file(clean_env).write_text(f'"openrouter:api_key" = "{OR_KEY}"\n')
    secrets_file(clean_env).chmod(0o600)
    result = run(capsys, base_env(clean_env), "doctor")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[1] == f"config file:   {config_file(clean_env)} (present)"
    assert lines[4] == "overrides:     https://api.z.ai -> http://127.0.0.1:9/zai"
    assert "openrouter: enabled" in lines
    assert f"  ok api: API key from secrets file {secrets_file(clean_env)}" in lines
    assert OR_KEY not in result.out + result.err


def test_doctor_reports_the_last_success_and_error_from_the_database(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_database(clean_env)
    result = run(capsys, base_env(clean_env, Z_AI_API_KEY=KEY), "doctor")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[2] == f"database:      {database(clean_env)} (present)"
    zai = lines.index("zai: enabled")
    assert lines[zai + 1: zai + 4] == [
        "  ok api: API key from env Z_AI_API_KEY",
        "  last success: 2026-11-25T17:30:00Z",
        "  last error: unavailable: z.ai is unavailable (HTTP 503)",
    ]


def test_doctor_with_an_invalid_config_reports_the_rest_and_exits_2(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Changed deliberately (issue 6, item 10): doctor used to stop at the bad key and print nothing.
    config_file(clean_env).parent.mkdir(parents=True)
    config_file(clean_env).write_text("colour = 1\nport = 9000\n")
    provider_id = default_registry().ids()[0]
    result = run(capsys, base_env(clean_env), "doctor")
    assert result.code == 2
    lines = result.out.splitlines()
    assert lines[:4] == [
        f"codexbard {__version__}",
        f"config file:   {config_file(clean_env)} (present)",
        f"config error:  {config_file(clean_env)}: unknown key 'colour' (left out below)",
        f"database:      {database(clean_env)} (not created yet)",
    ]
    assert f"{provider_id}: disabled" in lines
    assert result.err == f"codexbard: config error: {config_file(clean_env)}: unknown key 'colour'\n"


def test_doctor_names_a_bad_provider_key_and_still_lists_every_provider(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = next(s for s in default_registry() if "api_key" in s.secret_fields())
    config_file(clean_env).parent.mkdir(parents=True)
    config_file(clean_env).write_text(f"[providers.{spec.id}]\ninterval_seconds = true\n")
    result = run(capsys, base_env(clean_env), "doctor")
    assert result.code == 2
    message = (f"{config_file(clean_env)}: providers.{spec.id}.interval_seconds: "
               "Value error, must be a number, not true/false (got True)")
    assert f"config error:  {message} (left out below)" in result.out.splitlines()
    assert [line for line in result.out.splitlines() if line.endswith(("abled",))] == [
        f"{p.id}: disabled" for p in default_registry()
    ]
    assert result.err == f"codexbard: config error: {message}\n"


# ----------------------------------------------------------------------------------------------- history


def test_history_without_a_database_exit_1(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, base_env(clean_env), "history", "--provider", "zai")
    assert result.code == 1
    assert result.out == ""
    assert result.err == (
        f"codexbard: no database at {database(clean_env)} yet (start `codexbard serve` first)\n"
    )
    assert not database(clean_env).exists()


def test_history_unknown_provider_exit_2(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, base_env(clean_env), "history", "--provider", "nope")
    assert result.code == 2
    assert result.out == ""
    assert result.err == f"codexbard: unknown provider 'nope' (known: {known_ids()})\n"


def test_history_needs_a_provider(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, base_env(clean_env), "history")
    assert result.code == 2
    assert "the following arguments are required: --provider" in result.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "yesterday"), "codexbard: 'since' must be ISO 8601 or epoch seconds\n"),
        (("--until", "1e20"), "codexbard: 'until' is out of range\n"),
        (("--step", "0"), "codexbard: --step must be at least 1 (seconds)\n"),
    ],
)
def test_history_bad_arguments_exit_2(clean_env: Path, capsys: pytest.CaptureFixture[str],
                                      args: tuple[str, ...], message: str) -> None:
    # refused before the database is looked at, with or without one
    result = run(capsys, base_env(clean_env), "history", "--provider", "zai", *args)
    assert (result.code, result.out, result.err) == (2, "", message)
    seed_database(clean_env)
    again = run(capsys, base_env(clean_env), "history", "--provider", "zai", *args)
    assert (again.code, again.out, again.err) == (2, "", message)


def test_history_json_from_the_database(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed_database(clean_env)
    result = run(capsys, base_env(clean_env), "history", "--provider", "zai", "--format", "json")
    assert result.code == 0
    assert result.err == ""
    assert result.json() == {
        "provider": "zai",
        "account": None,
        "window": "primary",
        "points": [
            {"t": "2026-11-25T17:00:00Z", "usedPercent": 20.0, "resetsAt": "2026-11-25T20:00:00Z"},
            {"t": "2026-11-25T17:30:00Z", "usedPercent": 35.5, "resetsAt": "2026-11-25T20:00:00Z"},
        ],
    }


def test_history_range_and_text(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed_database(clean_env)
    env = base_env(clean_env)
    result = run(capsys, env, "history", "--provider", "zai", "--since", "2026-11-25T17:15:00Z")
    assert result.code == 0
    assert result.out == "2026-11-25T17:30:00Z    35.5%  resets 2026-11-25T20:00:00Z\n"
    empty = run(capsys, env, "history", "--provider", "zai", "--window", "secondary")
    assert empty.code == 0
    assert empty.out == "No samples for zai secondary in that range.\n"


# ------------------------------------------------------------------------------------------ bad arguments


def test_no_subcommand_exit_2(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, base_env(clean_env))
    assert result.code == 2
    assert result.out == ""
    assert "the following arguments are required: command" in result.err


@pytest.mark.parametrize(
    "argv",
    [
        ("frobnicate",),
        ("usage", "--format", "xml"),
        ("usage", "--bogus"),
        ("status", "--format", "json", "extra"),
        ("config",),
        ("config", "set", "port"),
        ("config", "set-secret"),
    ],
)
def test_bad_arguments_exit_2(clean_env: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]) -> None:
    result = run(capsys, base_env(clean_env), *argv)
    assert result.code == 2
    assert result.out == ""
    assert "error:" in result.err


def test_version_exit_0(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, base_env(clean_env), "--version")
    assert result.code == 0
    assert result.out == f"codexbard {__version__}\n"
