"""Tests for codexbard.config's own reader of CODEXBARD_* variables (what pydantic-settings used to do)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from codexbard.config import (
    MAX_CONFIG_BYTES,
    Settings,
    env_settings,
    load_settings,
    load_settings_tolerant,
    merge_settings,
    parse_config_text,
)
from codexbard.errors import ConfigError


def config_at(root: Path, text: str) -> Path:
    path = root / "config.toml"
    path.write_text(text)
    return path


def error_of(env: dict[str, str], path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(env, path)
    return str(info.value)


def test_nested_paths_build_nested_tables() -> None:
    env = {
        "CODEXBARD_PROVIDERS__ZAI__API_KEY": "zk-1",
        "CODEXBARD_PROVIDERS__ZAI__INTERVAL_SECONDS": "900",
        "CODEXBARD_PROVIDERS__CLAUDE__ENABLED": "false",
        "CODEXBARD_COST__PRICING__GPT-X__INPUT": "1.5",
        "CODEXBARD_STATUS__INTERVAL_SECONDS": "60",
        "CODEXBARD_UPSTREAM_OVERRIDES__HTTPS://API.Z.AI": "http://127.0.0.1:9000",
        "HOME": "/home/someone",
    }
    assert env_settings(env) == {
        "upstream_overrides": {"https://api.z.ai": "http://127.0.0.1:9000"},
        "status": {"interval_seconds": "60"},
        "cost": {"pricing": {"gpt-x": {"input": "1.5"}}},
        "providers": {"zai": {"api_key": "zk-1", "interval_seconds": "900"}, "claude": {"enabled": "false"}},
    }


def test_names_are_case_insensitive(tmp_path: Path) -> None:
    env = {"codexbard_port": "9100", "CodexBard_Display__Warning_Percent": "60",
           "CODEXBARD_Providers__ZAI__Source": "api"}
    assert env_settings(env) == {
        "port": "9100", "display": {"warning_percent": "60"}, "providers": {"zai": {"source": "api"}},
    }
    settings, _ = load_settings(env, tmp_path / "none.toml")
    assert settings.port == 9100
    assert settings.display.warning_percent == 60.0
    assert settings.providers["zai"].source == "api"


def test_the_last_spelling_of_a_name_wins() -> None:
    assert env_settings({"CODEXBARD_HOST": "a.lan", "codexbard_host": "b.lan"}) == {"host": "b.lan"}


def test_complex_fields_take_json(tmp_path: Path) -> None:
    env = {
        "CODEXBARD_ALLOWED_HOSTS": '["a.lan", "b.lan"]',
        "CODEXBARD_DISPLAY": '{"WARNING_PERCENT": 60, "critical_percent": 80}',
        "CODEXBARD_PROVIDERS": '{"zai": {"enabled": false, "source": "api"}}',
        "CODEXBARD_PROVIDERS__ZAI__ENABLED": "true",
    }
    assert env_settings(env) == {
        "allowed_hosts": ["a.lan", "b.lan"],
        "display": {"warning_percent": 60, "critical_percent": 80},
        "providers": {"zai": {"enabled": "true", "source": "api"}},
    }
    settings, _ = load_settings(env, tmp_path / "none.toml")
    assert settings.allowed_hosts == ["a.lan", "b.lan"]
    assert (settings.display.warning_percent, settings.display.critical_percent) == (60.0, 80.0)
    assert settings.providers["zai"].enabled is True


def test_scalar_fields_keep_the_text() -> None:
    # No JSON for a string, number or secret field: quotes and brackets stay part of the value.
    env = {"CODEXBARD_HOST": '"quoted"', "CODEXBARD_TOKEN": "[1]", "CODEXBARD_PORT": "9000"}
    assert env_settings(env) == {"host": '"quoted"', "port": "9000", "token": "[1]"}


def test_a_leaf_under_a_complex_field_is_json_only_where_its_target_is_complex() -> None:
    env = {
        "CODEXBARD_PROVIDERS__ZAI__REGION": "123",  # undeclared key inside a dict field: JSON when it parses
        "CODEXBARD_PROVIDERS__ZAI__TEAM": "true",
        "CODEXBARD_PROVIDERS__ZAI__ORG": "cn-north",  # not JSON: kept as text
        "CODEXBARD_PROVIDERS__ZAI__X__Y": '"s"',
        "CODEXBARD_PROVIDERS__ZAI__INTERVAL_SECONDS": "600",  # declared scalar: text, pydantic converts it
        "CODEXBARD_PROVIDERS__ZAI__ACCOUNTS": '[{"label": "work"}]',  # declared list | None: JSON
        "CODEXBARD_COST__PRICING__GPT-X": '{"input": 1, "output": 2}',  # a dict's value type: JSON
        "CODEXBARD_COST__PRICING__GPT-Y__INPUT": "2.5",  # a float inside it: text
    }
    assert env_settings(env) == {
        "cost": {"pricing": {"gpt-x": {"input": 1, "output": 2}, "gpt-y": {"input": "2.5"}}},
        "providers": {"zai": {"region": 123, "team": True, "org": "cn-north", "x": {"y": "s"},
                              "interval_seconds": "600", "accounts": [{"label": "work"}]}},
    }


def test_a_declared_list_leaf_that_is_not_json_is_left_to_validation(tmp_path: Path) -> None:
    env = {"CODEXBARD_PROVIDERS__ZAI__ACCOUNTS": "work"}
    assert env_settings(env) == {"providers": {"zai": {"accounts": "work"}}}
    assert error_of(env, tmp_path / "none.toml") == (
        "environment (CODEXBARD_PROVIDERS__ZAI__ACCOUNTS): providers.zai.accounts: "
        "Input should be a valid list (got 'work')")


def test_json_null_for_a_complex_field_leaves_it_unset() -> None:
    assert env_settings({"CODEXBARD_COST": "null", "CODEXBARD_PROVIDERS__ZAI__REGION": "null"}) == {
        "providers": {"zai": {"region": None}},
    }


def test_env_deep_merges_over_the_file(tmp_path: Path) -> None:
    path = config_at(tmp_path, """
allowed_hosts = ["a.lan", "b.lan"]
[display]
warning_percent = 50
critical_percent = 95
[providers.zai]
enabled = true
source = "api"
""")
    env = {
        "CODEXBARD_ALLOWED_HOSTS": '["c.lan"]',  # a list replaces
        "CODEXBARD_DISPLAY__WARNING_PERCENT": "70",  # tables merge key by key
        "CODEXBARD_PROVIDERS": '{"codex": {"enabled": false}}',
        "CODEXBARD_PROVIDERS__ZAI__SOURCE": "web",
    }
    settings, _ = load_settings(env, path)
    assert settings.allowed_hosts == ["c.lan"]
    assert (settings.display.warning_percent, settings.display.critical_percent) == (70.0, 95.0)
    assert sorted(settings.providers) == ["codex", "zai"]
    assert (settings.providers["zai"].enabled, settings.providers["zai"].source) == (True, "web")
    assert settings.providers["codex"].enabled is False


def test_merge_settings() -> None:
    base = {"a": {"x": 1, "y": {"p": 1}}, "b": [1, 2], "c": {"k": 1}, "d": 1}
    over = {"a": {"y": {"q": 2}, "z": 3}, "b": [3], "c": 5, "e": {"n": 1}}
    assert merge_settings(base, over) == {
        "a": {"x": 1, "y": {"p": 1, "q": 2}, "z": 3}, "b": [3], "c": 5, "d": 1, "e": {"n": 1},
    }
    assert base == {"a": {"x": 1, "y": {"p": 1}}, "b": [1, 2], "c": {"k": 1}, "d": 1}  # untouched


def test_unknown_codexbard_variables_are_ignored(tmp_path: Path) -> None:
    env = {
        "CODEXBARD_CONFIG": str(tmp_path / "none.toml"),
        "CODEXBARD_REQUIRE_BROWSER": "1",
        "CODEXBARD_PROT": "9000",  # a typo
        "CODEXBARD_HOST__NAME": "x",  # a path under a scalar field
        "CODEXBARD_": "x",
        "CODEXBARD_PROVIDERSX__ZAI": "x",
        "OTHER_PORT": "1",
    }
    assert env_settings(env) == {}
    settings, _ = load_settings(env)
    assert settings == Settings()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CODEXBARD_ALLOWED_HOSTS": "a.lan,b.lan"},
         "environment (CODEXBARD_ALLOWED_HOSTS): not valid JSON for this setting"),
        ({"codexbard_display": "{warning_percent: 60}"},
         "environment (CODEXBARD_DISPLAY): not valid JSON for this setting"),
        ({"CODEXBARD_COST__PRICING": "gpt-x=1"},
         "environment (CODEXBARD_COST__PRICING): not valid JSON for this setting"),
        ({"CODEXBARD_PROVIDERS": '{"zai": ' + "[" * 100_000},
         "environment (CODEXBARD_PROVIDERS): nested too deeply for this setting"),
        ({"CODEXBARD_PROVIDERS__ZAI__REGION": "[" * 100_000},
         "environment (CODEXBARD_PROVIDERS__ZAI__REGION): nested too deeply for this setting"),
        ({"CODEXBARD_PROVIDERS__ZAI__API_KEY": "k" * (MAX_CONFIG_BYTES + 1)},
         "environment (CODEXBARD_PROVIDERS__ZAI__API_KEY): longer than 1048576 bytes; refused"),
        ({"codexbard_config": "c" * (MAX_CONFIG_BYTES + 1)},
         "environment (CODEXBARD_CONFIG): longer than 1048576 bytes; refused"),
    ],
)
def test_unreadable_variables_are_named(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        env_settings(env)
    assert str(info.value) == message
    assert error_of(env, tmp_path / "none.toml") == message


def test_a_variable_at_the_cap_is_read() -> None:
    assert env_settings({"CODEXBARD_HOST": "h" * MAX_CONFIG_BYTES}) == {"host": "h" * MAX_CONFIG_BYTES}


def test_empty_values_are_kept(tmp_path: Path) -> None:
    env = {"CODEXBARD_HOST": "", "CODEXBARD_PROVIDERS__ZAI__REGION": ""}
    assert env_settings(env) == {"host": "", "providers": {"zai": {"region": ""}}}
    settings, _ = load_settings(env, tmp_path / "none.toml")
    assert settings.host == ""
    assert settings.providers["zai"].values()["region"] == ""
    assert error_of({"CODEXBARD_PORT": ""}, tmp_path / "none.toml") == (
        "environment (CODEXBARD_PORT): port: Input should be a valid integer, "
        "unable to parse string as an integer (got '')")
    assert error_of({"CODEXBARD_ALLOWED_HOSTS": ""}, tmp_path / "none.toml") == (
        "environment (CODEXBARD_ALLOWED_HOSTS): not valid JSON for this setting")


def test_file_keys_at_the_top_are_case_insensitive(tmp_path: Path) -> None:
    path = config_at(tmp_path, 'PORT = 9001\nHost = "127.0.0.2"\n[Display]\nwarning_percent = 40\n')
    settings, _ = load_settings({}, path)
    assert (settings.port, settings.host, settings.display.warning_percent) == (9001, "127.0.0.2", 40.0)
    assert parse_config_text("Port = 9002\n", "text").port == 9002


def test_settings_built_directly_never_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEXBARD_PORT", "9999")
    monkeypatch.setenv("CODEXBARD_PROVIDERS__ZAI__SOURCE", "api")
    assert Settings().port == 8765
    assert Settings(port=9000).providers == {}
    assert parse_config_text("port = 9001\n", "text").port == 9001


def test_tolerant_loading_drops_only_the_unreadable_variable(tmp_path: Path) -> None:
    path = config_at(tmp_path, "port = 9002\n")
    env = {"CODEXBARD_ALLOWED_HOSTS": "a.lan", "CODEXBARD_HOST": "127.0.0.3",
           "CODEXBARD_COST__PRICING": "{", "CODEXBARD_DISPLAY__WARNING_PERCENT": "55"}
    loaded = load_settings_tolerant(env, path)
    assert loaded.problems == [
        "environment (CODEXBARD_ALLOWED_HOSTS): not valid JSON for this setting",
        "environment (CODEXBARD_COST__PRICING): not valid JSON for this setting",
    ]
    assert (loaded.settings.port, loaded.settings.host) == (9002, "127.0.0.3")
    assert loaded.settings.allowed_hosts == []
    assert loaded.settings.display.warning_percent == 55.0


def test_importing_config_does_not_import_pydantic_settings(tmp_path: Path) -> None:
    code = "import codexbard.config, sys; print('pydantic_settings' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                            env=dict(os.environ), timeout=30)
    assert (result.stdout, result.returncode) == ("False\n", 0)
