"""`codexbard usage`: one-shot fetches against a fake upstream on 127.0.0.1, every output format."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codexbard.host.clock import FixedClock
from codexbard.providers import registry as registry_module
from codexbard.providers.registry import Registry
from tests.cli import Result, base_env, config_file, known_ids, run
from tests.e2e.upstream import FakeUpstream
from tests.fakes import ScriptedStrategy, fake_spec, snapshot
from tests.helpers import NOW

KEY = "zai-cli-secret-key-5678"
OR_KEY = "sk-or-cli-secret-9012"
KIMI_KEY = "k2-cli-secret-3141"
WARP_KEY = "wk-cli-secret-2718"
QUOTA_PATH = "/zai/api/monitor/usage/quota/limit"
MODEL_USAGE_PATH = "/zai/api/monitor/usage/model-usage"  # z.ai's two optional chart calls (404 here)
CREDITS_PATH = "/openrouter/api/v1/credits"
KEY_PATH = "/openrouter/api/v1/key"
KIMI_PATH = "/kimi/api/user/credits"
WARP_PATH = "/warp/graphql/v2"
WARP_ANSWER = {"data": {"user": {"__typename": "UserOutput", "user": {
    "requestLimitInfo": {"isUnlimited": False, "nextRefreshTime": "2026-12-01T00:00:00Z", "requestLimit": 2500,
                         "requestsUsedSinceLastRefresh": 640},
    "bonusGrants": [], "workspaces": []}}}}

# NOW is 2026-11-25T18:00Z: the 5-hour window resets at 20:00Z, the weekly one on 2026-11-30T00:00Z.
QUOTA: dict[str, Any] = {
    "code": 200, "msg": "ok", "success": True,
    "data": {"planName": "Pro", "limits": [
        {"type": "TOKENS_LIMIT", "unit": 3, "number": 5, "percentage": 40, "nextResetTime": 1795636800000},
        {"type": "TOKENS_LIMIT", "unit": 6, "number": 1, "percentage": 12, "nextResetTime": 1795996800000},
    ]},
}
PRIMARY = {"usedPercent": 40.0, "windowMinutes": 300, "resetsAt": "2026-11-25T20:00:00Z",
           "resetDescription": "5-hour", "label": "5-hour"}
SECONDARY = {"usedPercent": 12.0, "windowMinutes": 10080, "resetsAt": "2026-11-30T00:00:00Z",
             "resetDescription": "1 week window", "label": "Weekly"}
OPENROUTER_STATUS = {"kind": "link", "indicator": None, "description": None, "updatedAt": None,
                     "url": "https://status.openrouter.ai"}


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every runtime the CLI builds reads the test's fixed NOW."""
    monkeypatch.setattr("codexbard.runtime.Clock", lambda: FixedClock(NOW))


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream()
    fake.set_json(QUOTA_PATH, QUOTA)
    fake.set_json(CREDITS_PATH, {"data": {"total_credits": 250.0, "total_usage": 87.35}})
    fake.set_json(KEY_PATH, {"data": {}})
    fake.set_json(KIMI_PATH, {"data": {"usage": {"total": 340, "credits_remaining": 160,
                                                 "updated_at": "2026-11-25T17:45:00Z"}}})
    fake.set_json(WARP_PATH, WARP_ANSWER)
    # Served with a short poll interval so shutting it down takes milliseconds, not half a second.
    thread = threading.Thread(target=fake.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
        thread.join(5)


def overrides(upstream: FakeUpstream) -> str:
    return json.dumps({"https://api.z.ai": f"{upstream.base}/zai",
                       "https://openrouter.ai": f"{upstream.base}/openrouter",
                       "https://kimi-k2.ai": f"{upstream.base}/kimi",
                       "https://app.warp.dev": f"{upstream.base}/warp"})


@pytest.fixture
def env(clean_env: Path, upstream: FakeUpstream) -> dict[str, str]:
    """zai configured by env key, every upstream pointed at the fake."""
    return base_env(clean_env, Z_AI_API_KEY=KEY, CODEXBARD_UPSTREAM_OVERRIDES=overrides(upstream))


def no_secret(result: Result, *secrets: str) -> None:
    for secret in (KEY, OR_KEY, KIMI_KEY, WARP_KEY, *secrets):
        assert secret not in result.out
        assert secret not in result.err


def zai_payload(**changes: Any) -> dict[str, Any]:
    """The expected `codexbard usage --provider zai --format json` element for QUOTA at NOW."""
    payload = {
        "provider": "zai",
        "displayName": "z.ai",
        "account": None,
        "source": "api",
        "version": None,
        "status": None,
        "usage": {
            "primary": PRIMARY,
            "secondary": SECONDARY,
            "tertiary": None,
            "extraRateWindows": [],
            "providerCost": None,
            "details": [{"title": "Quota details", "chart": None, "rows": [
                {"label": "Token quota", "value": "12% used", "secondaryValue": None},
                {"label": "Session token quota", "value": "40% used", "secondaryValue": None},
            ]}],
            "openRouterUsage": None,
            "updatedAt": "2026-11-25T18:00:00Z",
            "identity": {"providerID": "zai", "accountEmail": None, "accountOrganization": None,
                         "loginMethod": "Pro"},
            "accountEmail": None,
            "accountOrganization": None,
            "loginMethod": "Pro",
        },
        "credits": None,
        "cost": None,
        "pace": {
            # 3 h of 5 h gone: 60 % expected, 40 % used; 40 % per 3 h lasts past the reset.
            "primary": {"stage": "farBehind", "deltaPercent": -20.0, "expectedUsedPercent": 60.0,
                        "willLastToReset": True, "etaSeconds": None,
                        "summary": "20% in reserve | Expected 60% used | Lasts until reset"},
            # 66 h of 168 h gone: 39.29 % expected, 12 % used.
            "secondary": {"stage": "farBehind", "deltaPercent": -27.3,
                          "expectedUsedPercent": 39.3,
                          "willLastToReset": True, "etaSeconds": None,
                          "summary": "27% in reserve | Expected 39% used | Lasts until reset"},
            "tertiary": None,
        },
        "forecast": None,  # the one-shot CLI keeps no history
        "error": None,
        "lastError": None,
        "stale": False,
        "fetchedAt": "2026-11-25T18:00:00Z",
        "nextRefreshAt": None,
    }
    payload.update(changes)
    return payload


def quota_requests(upstream: FakeUpstream) -> list[tuple[str, str, dict[str, str]]]:
    return [r for r in upstream.requests if r[1].startswith(QUOTA_PATH)]


# ------------------------------------------------------------------------------------------ nothing enabled


def test_no_provider_enabled_prints_empty_array_and_a_hint(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, base_env(clean_env), "usage", "--format", "json")
    assert result.code == 0
    assert result.out == "[]\n"
    assert result.err == "codexbard: no provider is enabled; run `codexbard providers` to see what each one needs\n"


def test_no_provider_enabled_text_prints_the_hint_instead_of_nothing(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Changed deliberately (issue 9): the text summary is a hint, not an empty body, when nothing is enabled.
    result = run(capsys, base_env(clean_env), "usage")
    assert result.code == 0
    assert result.out == "No enabled provider matches; run `codexbard providers` to see what each one needs.\n"
    assert result.err == ""


# ---------------------------------------------------------------------------------------------- zai, json


def test_zai_json_exact_payload(env: dict[str, str], upstream: FakeUpstream,
                                capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, env, "usage", "--provider", "zai", "--format", "json")
    assert result.code == 0, result.err
    assert result.err == ""
    assert result.json() == [zai_payload()]
    # compact JSON on one line by default
    assert result.out.count("\n") == 1 and ", " not in result.out
    requests = quota_requests(upstream)
    assert len(requests) == 1
    assert requests[0][0] == "GET"
    assert requests[0][2]["Authorization"] == f"Bearer {KEY}"
    no_secret(result)


def test_default_selection_is_the_enabled_providers(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, env, "usage", "--format", "json")
    assert result.code == 0
    assert [p["provider"] for p in result.json()] == ["zai"]
    assert result.err == ""


def test_pretty_json_is_indented_and_equal(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, env, "usage", "--provider", "zai", "--format", "json", "--pretty")
    assert result.code == 0
    assert result.out.startswith('[\n  {\n    "provider": "zai",\n')
    assert result.json() == [zai_payload()]


def test_source_api_is_accepted_for_zai(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, env, "usage", "--provider", "zai", "--source", "api", "--format", "json")
    assert result.code == 0
    assert result.json()[0]["source"] == "api"


def test_key_from_the_config_file_is_used(clean_env: Path, upstream: FakeUpstream,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    config_file(clean_env).parent.mkdir(parents=True)
    config_file(clean_env).write_text(f'[providers.zai]\napi_key = "{KEY}"\n')
    env = base_env(clean_env, CODEXBARD_UPSTREAM_OVERRIDES=overrides(upstream))
    result = run(capsys, env, "usage", "--format", "json")
    assert result.code == 0
    assert result.json() == [zai_payload()]
    assert quota_requests(upstream)[0][2]["Authorization"] == f"Bearer {KEY}"
    no_secret(result)


# -------------------------------------------------------------------------------------------- zai, failures


def test_upstream_401_is_auth_required_exit_1_with_json(env: dict[str, str], upstream: FakeUpstream,
                                                        capsys: pytest.CaptureFixture[str],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # The body echoes the key: it must not reach the output, nor any log record.
    upstream.set_json(QUOTA_PATH, {"error": f"invalid token {KEY}"}, status=401)
    result = run(capsys, env, "usage", "--provider", "zai", "--format", "json")
    assert result.code == 1
    payloads = result.json()
    assert len(payloads) == 1
    payload = payloads[0]
    assert payload["error"]["kind"] == "auth_required"
    assert payload["error"]["code"] == 1
    assert payload["error"]["message"].endswith("; check the API key from env Z_AI_API_KEY")
    assert payload["usage"] is None
    assert payload["source"] is None
    assert payload["fetchedAt"] is None
    assert payload["stale"] is False
    assert payload["nextRefreshAt"] is None
    no_secret(result)
    assert KEY not in caplog.text


def test_envelope_401_echoing_the_key_is_auth_required_and_scrubbed(
    env: dict[str, str], upstream: FakeUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    upstream.set_json(QUOTA_PATH, {"code": 401, "success": False, "msg": f"token {KEY} expired"})
    result = run(capsys, env, "usage", "--provider", "zai", "--format", "json")
    assert result.code == 1
    error = result.json()[0]["error"]
    assert error["kind"] == "auth_required"
    assert error["message"].startswith("z.ai rejected the API key (code 401: token ")
    assert error["message"].endswith("; check the API key from env Z_AI_API_KEY")
    no_secret(result)


def test_upstream_500_is_unavailable_exit_1(env: dict[str, str], upstream: FakeUpstream,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    upstream.set_json(QUOTA_PATH, {"error": "boom"}, status=500)
    result = run(capsys, env, "usage", "--provider", "zai", "--format", "json")
    assert result.code == 1
    error = result.json()[0]["error"]
    assert error == {"kind": "unavailable", "message": error["message"], "code": 1}
    assert "HTTP 500" in error["message"]


def test_html_answer_is_a_parse_error_with_code_3(env: dict[str, str], upstream: FakeUpstream,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    upstream.routes[QUOTA_PATH] = (200, {"content-type": "text/html"}, b"<html>maintenance</html>")
    result = run(capsys, env, "usage", "--provider", "zai", "--format", "json")
    assert result.code == 1
    error = result.json()[0]["error"]
    assert (error["kind"], error["code"]) == ("parse_error", 3)


def test_connection_refused_is_unavailable(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # nothing listens on `port` any more
    env = base_env(clean_env, Z_AI_API_KEY=KEY,
                   CODEXBARD_UPSTREAM_OVERRIDES=json.dumps({"https://api.z.ai": f"http://127.0.0.1:{port}/zai"}))
    result = run(capsys, env, "usage", "--provider", "zai", "--format", "json")
    assert result.code == 1
    error = result.json()[0]["error"]
    assert error["kind"] == "unavailable"
    assert error["message"].startswith("cannot connect to z.ai")
    no_secret(result)


def test_failure_text_names_the_error(env: dict[str, str], upstream: FakeUpstream,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    upstream.set_json(QUOTA_PATH, {"error": "no"}, status=401)
    result = run(capsys, env, "usage", "--provider", "zai")
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0] == "z.ai"
    assert lines[1].startswith("  Error (auth_required): ")
    assert len(lines) == 2
    no_secret(result)


# ------------------------------------------------------------------------------------------ bad arguments


def test_unknown_provider_exit_2_lists_known_ids(env: dict[str, str], upstream: FakeUpstream,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, env, "usage", "--provider", "nope", "--format", "json")
    assert result.code == 2
    assert result.out == ""
    assert result.err == f"codexbard: unknown provider 'nope' (known: {known_ids()})\n"
    assert upstream.requests == []


def test_unknown_provider_next_to_all_is_still_refused(env: dict[str, str], upstream: FakeUpstream,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, env, "usage", "--provider", "all", "--provider", "nope")
    assert result.code == 2
    assert result.out == ""
    assert result.err == f"codexbard: unknown provider 'nope' (known: {known_ids()})\n"
    assert upstream.requests == []


class _WebStrategy(ScriptedStrategy):
    id = "web"
    kind = "web"
    source_label = "web"


def test_source_not_accepted_exit_2_names_the_modes(env: dict[str, str], upstream: FakeUpstream,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # --source offers every mode some registered provider accepts; a provider that lacks it is refused.
    builtin = registry_module.default_registry
    web = fake_spec("webby", _WebStrategy([snapshot(1.0)]))
    monkeypatch.setattr(registry_module, "default_registry", lambda: Registry([*builtin(), web]))
    spec = next(s for s in builtin() if "web" not in s.modes())
    result = run(capsys, env, "usage", "--provider", spec.id, "--source", "web", "--format", "json")
    assert result.code == 2
    assert result.out == ""
    assert result.err == (
        f"codexbard: {spec.display_name} does not accept --source web (accepts: {', '.join(spec.modes())})\n"
    )
    assert upstream.requests == []


def test_source_choices_come_from_the_registry(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    modes = {"auto": None} | {m: None for s in registry_module.default_registry() for m in s.modes()}
    result = run(capsys, env, "usage", "--source", "magic")
    assert result.code == 2
    assert f"(choose from {', '.join(repr(m) for m in modes)})" in result.err


def test_source_outside_the_known_set_is_an_argument_error(env: dict[str, str],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, env, "usage", "--source", "magic")
    assert result.code == 2
    assert result.out == ""
    assert "argument --source: invalid choice: 'magic'" in result.err


def test_format_xml_is_an_argument_error(env: dict[str, str], upstream: FakeUpstream,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, env, "usage", "--format", "xml")
    assert result.code == 2
    assert result.out == ""
    assert "argument --format: invalid choice: 'xml'" in result.err
    assert upstream.requests == []


def test_unknown_account_exit_2(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, env, "usage", "--provider", "zai", "--account", "nope")
    assert result.code == 2
    assert result.out == ""
    assert result.err == "codexbard: no configured account 'nope'\n"


def test_invalid_config_file_exit_2(env: dict[str, str], clean_env: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    config_file(clean_env).parent.mkdir(parents=True)
    config_file(clean_env).write_text("[providers.zai]\nregion = \"mars\"\n")
    result = run(capsys, env, "usage", "--format", "json")
    assert result.code == 2
    assert result.out == ""
    assert result.err == ("codexbard: config error: providers.zai.region: must be one of 'global', 'bigmodel-cn'\n")


# ------------------------------------------------------------------------------------- several providers


def test_provider_all_lists_every_provider_in_registry_order(env: dict[str, str], upstream: FakeUpstream,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, env, "usage", "--provider", "all", "--format", "json")
    # the providers without credentials failed
    assert result.code == 1
    payloads = result.json()
    assert [p["provider"] for p in payloads] == registry_module.default_registry().ids()
    assert [p["displayName"] for p in payloads] == [s.display_name for s in registry_module.default_registry()]
    assert next(p for p in payloads if p["provider"] == "zai") == zai_payload()
    for payload in [p for p in payloads if p["provider"] != "zai"]:
        assert payload["usage"] is None
        assert payload["error"]["kind"] == "not_configured"
        assert payload["error"]["code"] == 1
        assert payload["nextRefreshAt"] is None
    by_id = {p["provider"]: p for p in payloads}
    assert by_id["kimik2"]["error"]["message"].startswith("Kimi K2 is not enabled (")
    assert "KIMI_K2_API_KEY" in by_id["kimik2"]["error"]["message"]
    assert by_id["warp"]["error"]["message"].startswith("Warp is not enabled (")
    assert "WARP_API_KEY" in by_id["warp"]["error"]["message"]
    assert by_id["openrouter"]["error"]["message"].startswith("OpenRouter is not enabled (")
    assert "OPENROUTER_API_KEY" in by_id["openrouter"]["error"]["message"]
    # only zai's upstream was asked
    assert [r[1] for r in upstream.requests if MODEL_USAGE_PATH not in r[1]] == [QUOTA_PATH]


def test_repeated_provider_flags_keep_registry_order(env: dict[str, str], clean_env: Path, upstream: FakeUpstream,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    env = {**env, "OPENROUTER_API_KEY": OR_KEY}
    result = run(capsys, env, "usage", "--provider", "openrouter", "--provider", "zai", "--format", "json")
    assert result.code == 0, result.out
    assert [p["provider"] for p in result.json()] == ["zai", "openrouter"]
    no_secret(result)


def test_provider_disabled_in_config_is_reported_not_fetched(env: dict[str, str], clean_env: Path,
                                                             upstream: FakeUpstream,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    config_file(clean_env).parent.mkdir(parents=True)
    config_file(clean_env).write_text("[providers.zai]\nenabled = false\n")
    result = run(capsys, env, "usage", "--provider", "zai", "--format", "json")
    assert result.code == 1
    payload = result.json()[0]
    assert payload["usage"] is None
    assert payload["error"] == {
        "kind": "not_configured",
        "message": "z.ai is not enabled (disabled in config). "
                   "Set Z_AI_API_KEY or run `codexbard config set-secret --provider zai`.",
        "code": 1,
    }
    assert upstream.requests == []


def test_named_account_payload(clean_env: Path, upstream: FakeUpstream, capsys: pytest.CaptureFixture[str]) -> None:
    config_file(clean_env).parent.mkdir(parents=True)
    config_file(clean_env).write_text(f'[[providers.zai.accounts]]\nlabel = "work"\napi_key = "{KEY}"\n')
    env = base_env(clean_env, CODEXBARD_UPSTREAM_OVERRIDES=overrides(upstream))
    result = run(capsys, env, "usage", "--account", "work", "--format", "json")
    assert result.code == 0, result.out
    assert result.json() == [zai_payload(account="work")]
    flat = run(capsys, env, "usage", "--format", "flat")
    assert list(flat.json()) == ["zai:work"]
    no_secret(result)
    no_secret(flat)


# -------------------------------------------------------------------------------------------- text, flat


def test_text_format_lines(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    # Changed deliberately (issue 9): the 5-hour window's description "5-hour" only repeated its label; it is left out.
    result = run(capsys, env, "usage", "--provider", "zai", "--format", "text")
    assert result.code == 0
    assert result.out == (
        "z.ai (api)\n"
        "  5-hour: 60% left (40% used), resets 2026-11-25 20:00 UTC (in 2h 0m)\n"
        "  Weekly: 88% left (12% used), resets 2026-11-30 00:00 UTC (in 4d 6h), 1 week window\n"
        "  Pro\n"
    )
    assert result.err == ""


def test_text_is_the_default_format(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    default = run(capsys, env, "usage", "--provider", "zai")
    explicit = run(capsys, env, "usage", "--provider", "zai", "--format", "text")
    assert default == explicit


def test_text_blocks_are_separated_by_a_blank_line(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    env = {**env, "OPENROUTER_API_KEY": OR_KEY}
    result = run(capsys, env, "usage", "--format", "text")
    assert result.code == 0
    zai, openrouter = result.out.split("\n\n")
    assert zai.splitlines()[0] == "z.ai (api)"
    assert openrouter == "OpenRouter (api)\n  Balance: $162.65\n  Credits: 162.65 of 250 USD left\n"
    no_secret(result)


def test_flat_format(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, env, "usage", "--provider", "zai", "--format", "flat")
    assert result.code == 0
    assert result.json() == {
        "zai": {
            "displayName": "z.ai",
            "primary": PRIMARY,
            "secondary": SECONDARY,
            "tertiary": None,
            "credits": None,
            "stale": False,
            "error": None,
            "lastError": None,
            "updatedAt": "2026-11-25T18:00:00Z",
        }
    }
    assert result.out.count("\n") == 1
    pretty = run(capsys, env, "usage", "--provider", "zai", "--format", "flat", "--pretty")
    assert pretty.out.startswith('{\n  "zai": {\n')
    assert pretty.json() == result.json()


def test_flat_format_carries_the_error_message(env: dict[str, str], upstream: FakeUpstream,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    upstream.set_json(QUOTA_PATH, {"error": "boom"}, status=500)
    result = run(capsys, env, "usage", "--provider", "zai", "--format", "flat")
    assert result.code == 1
    entry = result.json()["zai"]
    assert entry["primary"] is None and entry["updatedAt"] is None
    assert "HTTP 500" in entry["error"]


# ---------------------------------------------------------------------------------------------- --status


def test_status_flag_fills_openrouter_link_status(env: dict[str, str], upstream: FakeUpstream,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    env = {**env, "OPENROUTER_API_KEY": OR_KEY}
    without = run(capsys, env, "usage", "--provider", "openrouter", "--format", "json")
    assert without.code == 0, without.out
    assert without.json()[0]["status"] is None
    result = run(capsys, env, "usage", "--provider", "openrouter", "--provider", "zai", "--status",
                 "--format", "json")
    assert result.code == 0, result.out
    zai, openrouter = result.json()
    assert zai["status"] is None  # z.ai has no status source
    assert openrouter["status"] == OPENROUTER_STATUS
    assert openrouter["source"] == "api"
    assert openrouter["credits"] == {"remaining": pytest.approx(162.65), "total": 250.0, "unit": "USD",
                                     "updatedAt": None}
    # a link-only status is never polled
    assert sorted({r[1].split("?")[0] for r in upstream.requests}) == [CREDITS_PATH, KEY_PATH, MODEL_USAGE_PATH,
                                                                      QUOTA_PATH]
    credits_headers = next(r[2] for r in upstream.requests if r[1] == CREDITS_PATH)
    assert credits_headers["Authorization"] == f"Bearer {OR_KEY}"
    no_secret(without)
    no_secret(result)


def test_status_flag_on_a_provider_that_is_not_enabled(env: dict[str, str], upstream: FakeUpstream,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, env, "usage", "--provider", "openrouter", "--status", "--format", "json")
    assert result.code == 1
    payload = result.json()[0]
    assert payload["status"] == OPENROUTER_STATUS
    assert payload["error"]["kind"] == "not_configured"
    assert upstream.requests == []


# ------------------------------------------------------------------------------------ all four providers


def test_all_four_providers_succeed(env: dict[str, str], upstream: FakeUpstream,
                                    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    env = {**env, "OPENROUTER_API_KEY": OR_KEY, "KIMI_K2_API_KEY": KIMI_KEY, "WARP_API_KEY": WARP_KEY}
    result = run(capsys, env, "usage", "--format", "json")
    assert result.code == 0, result.out
    assert result.err == ""
    zai, kimi, warp, openrouter = result.json()
    assert zai == zai_payload()
    assert [p["provider"] for p in (kimi, warp, openrouter)] == ["kimik2", "warp", "openrouter"]
    for payload in (kimi, warp, openrouter):
        assert (payload["source"], payload["error"], payload["stale"]) == ("api", None, False)
        assert (payload["fetchedAt"], payload["nextRefreshAt"]) == ("2026-11-25T18:00:00Z", None)
    assert kimi["credits"] == {"remaining": 160.0, "total": 500.0, "unit": "credits",
                               "updatedAt": "2026-11-25T17:45:00Z"}
    assert kimi["usage"]["updatedAt"] == "2026-11-25T17:45:00Z"
    assert warp["usage"]["primary"] == {"usedPercent": 25.6, "windowMinutes": None,
                                        "resetsAt": "2026-12-01T00:00:00Z",
                                        "resetDescription": "640/2500 credits", "label": "Credits"}
    assert openrouter["usage"]["loginMethod"] == "Balance: $162.65"
    auth = {path.split("?", 1)[0]: headers["Authorization"] for _, path, headers in upstream.requests}
    assert auth == {QUOTA_PATH: f"Bearer {KEY}", MODEL_USAGE_PATH: f"Bearer {KEY}",
                    KIMI_PATH: f"Bearer {KIMI_KEY}", WARP_PATH: f"Bearer {WARP_KEY}",
                    CREDITS_PATH: f"Bearer {OR_KEY}", KEY_PATH: f"Bearer {OR_KEY}"}
    text = run(capsys, env, "usage")
    assert text.code == 0
    assert [block.splitlines()[0] for block in text.out.split("\n\n")] == [
        "z.ai (api)", "Kimi K2 (api)", "Warp (api)", "OpenRouter (api)"]
    flat = run(capsys, env, "usage", "--format", "flat")
    assert list(flat.json()) == ["zai", "kimik2", "warp", "openrouter"]
    for output in (result, text, flat):
        no_secret(output)
    for secret in (KEY, OR_KEY, KIMI_KEY, WARP_KEY):
        assert secret not in caplog.text


def test_one_failure_among_several_exits_1_with_every_payload(env: dict[str, str], upstream: FakeUpstream,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    upstream.set_json(WARP_PATH, {"errors": [{"message": f"bad key {WARP_KEY}"}]}, status=401)
    env = {**env, "WARP_API_KEY": WARP_KEY}
    result = run(capsys, env, "usage", "--format", "json")
    assert result.code == 1
    zai, warp = result.json()
    assert zai == zai_payload()
    assert warp["error"]["kind"] == "auth_required"
    assert warp["usage"] is None
    no_secret(result)


def test_codexbar_usage_flags_the_raycast_extension_passes(env: dict[str, str],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    # The extension's one-shot fallback: JSON on stdout, nothing else, exit 0.
    result = run(capsys, env, "usage", "--format", "json", "--json-only", "--json-output", "--web-timeout", "5",
                 "--provider", "zai", "--source", "auto")
    assert result.code == 0
    assert result.json() == [zai_payload()]
    assert result.err == ""
    for flags in (["--json"], ["--json-only"], ["--json", "--pretty"]):
        assert run(capsys, env, "usage", "--provider", "zai", *flags).json() == [zai_payload()]
    assert run(capsys, env, "usage", "--provider", "zai", "--json-only", "--format", "flat").json()["zai"][
        "lastError"] is None


@pytest.mark.parametrize("argv", [["--web-timeout", "soon"], ["--web-timeout", "-1"], ["--json", "--format", "flat"]])
def test_bad_codexbar_flags_exit_2(env: dict[str, str], capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    result = run(capsys, env, "usage", "--provider", "zai", *argv)
    assert result.code == 2
    assert result.out == ""


def test_serve_accepts_the_codexbar_serve_flags() -> None:
    from codexbard.cli import build_parser

    args = build_parser().parse_args(["serve", "--port", "17653", "--refresh-interval", "600",
                                      "--request-timeout", "30", "--json-output"])
    assert (args.port, args.refresh_interval, args.request_timeout, args.json_output) == (17653, 600.0, 30.0, True)
