"""Tests for codexbard.config: defaults, file and env precedence, one-line errors, and paths."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from codexbard.config import (
    MAX_CONFIG_BYTES,
    AccountConfig,
    Paths,
    ProviderConfig,
    Settings,
    check_intervals,
    config_path,
    default_data_dir,
    load_settings,
    load_settings_tolerant,
    read_config_file,
    redact_url,
)
from codexbard.errors import ConfigError
from codexbard.providers.base import ProviderSpec
from codexbard.providers.registry import Registry
from tests.fakes import ScriptedStrategy


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def load(path: Path | None = None) -> tuple[Settings, Paths]:
    return load_settings(dict(os.environ), path)


def test_defaults_without_a_file(clean_env: Path) -> None:
    settings, paths = load_settings(dict(os.environ))
    assert settings.host == "127.0.0.1"
    assert settings.port == 8765
    assert settings.default_interval_seconds == 300
    assert settings.refresh_timeout_seconds == 30
    assert settings.redact_identity is False
    assert settings.token is None
    assert settings.allowed_hosts == []
    assert settings.upstream_overrides == {}
    assert settings.display.warning_percent == 75
    assert settings.display.critical_percent == 90
    assert settings.status.enabled is True
    assert settings.status.interval_seconds == 300
    assert settings.cost.enabled is True
    assert settings.cost.history_days == 30
    assert settings.cost.pricing_refresh is False
    assert settings.providers == {}
    assert paths.config_file == clean_env / ".config" / "codexbard" / "config.toml"
    assert paths.config_dir == clean_env / ".config" / "codexbard"
    assert paths.data_dir == clean_env / ".local" / "share" / "codexbard"
    assert paths.database == clean_env / ".local" / "share" / "codexbard" / "codexbard.db"


def test_file_values(clean_env: Path) -> None:
    path = write(
        clean_env / ".config" / "codexbard" / "config.toml",
        """
port = 9000
data_dir = "~/data"
redact_identity = true
allowed_hosts = ["mybox.lan"]

[upstream_overrides]
"https://api.z.ai" = "http://127.0.0.1:9000/zai"

[display]
warning_percent = 60

[cost.pricing."gpt-5.2-codex"]
input = 1.75
output = 14

[providers.zai]
enabled = true
source = "api"
interval_seconds = 600
api_key = "zk-in-file"
region = "cn"

[[providers.codex.accounts]]
label = "work"
codex_home = "~/.codex-work"
""",
    )
    settings, paths = load_settings(dict(os.environ))
    assert paths.config_file == path
    assert paths.data_dir == clean_env / "data"
    assert settings.port == 9000
    assert settings.redact_identity is True
    assert settings.allowed_hosts == ["mybox.lan"]
    assert settings.upstream_overrides == {"https://api.z.ai": "http://127.0.0.1:9000/zai"}
    assert settings.display.warning_percent == 60
    assert settings.cost.pricing == {"gpt-5.2-codex": {"input": 1.75, "output": 14.0}}
    zai = settings.providers["zai"]
    assert zai.enabled is True
    assert zai.source == "api"
    assert zai.interval_seconds == 600
    assert zai.api_key is not None and zai.api_key.get_secret_value() == "zk-in-file"
    assert zai.model_extra == {"region": "cn"}
    assert "zk-in-file" not in repr(zai)
    values = zai.values()
    assert values["region"] == "cn"
    assert values["source"] == "api"
    codex = settings.providers["codex"]
    assert codex.accounts is not None
    assert codex.accounts[0].label == "work"
    assert codex.accounts[0].model_extra == {"codex_home": "~/.codex-work"}


def test_env_wins_over_the_file(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(
        clean_env / "cfg.toml",
        """
port = 9000
host = "127.0.0.1"
[providers.zai]
enabled = true
interval_seconds = 600
""",
    )
    monkeypatch.setenv("CODEXBARD_PORT", "9100")
    monkeypatch.setenv("CODEXBARD_PROVIDERS__ZAI__INTERVAL_SECONDS", "900")
    monkeypatch.setenv("CODEXBARD_PROVIDERS__ZAI__API_KEY", "zk-from-env")
    monkeypatch.setenv("CODEXBARD_PROVIDERS__WARP__INTERVAL_SECONDS", "120")
    monkeypatch.setenv("CODEXBARD_TOKEN", "t0ken")
    settings, paths = load(path)
    assert paths.config_file == path
    assert settings.port == 9100
    assert settings.host == "127.0.0.1"
    zai = settings.providers["zai"]
    assert zai.interval_seconds == 900
    # Nested env values merge into the file's table instead of replacing it.
    assert zai.enabled is True
    assert zai.api_key is not None and zai.api_key.get_secret_value() == "zk-from-env"
    assert settings.providers["warp"].interval_seconds == 120
    assert settings.token is not None and settings.token.get_secret_value() == "t0ken"


def test_overrides_from_env_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEXBARD_UPSTREAM_OVERRIDES", '{"https://api.z.ai": "http://127.0.0.1:9000/zai"}')
    settings, _ = load()
    assert settings.upstream_overrides == {"https://api.z.ai": "http://127.0.0.1:9000/zai"}


def test_overrides_env_that_is_not_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEXBARD_UPSTREAM_OVERRIDES", "https://api.z.ai=http://127.0.0.1:9000")
    with pytest.raises(ConfigError) as info:
        load()
    assert str(info.value) == "environment (CODEXBARD_UPSTREAM_OVERRIDES): not valid JSON for this setting"


def test_config_env_var_is_not_an_unknown_key(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(clean_env / "elsewhere.toml", "port = 9001\n")
    monkeypatch.setenv("CODEXBARD_CONFIG", str(path))
    settings, paths = load()
    assert paths.config_file == path
    assert settings.port == 9001


def test_syntax_error_names_the_path(clean_env: Path) -> None:
    path = write(clean_env / "cfg.toml", "port = \n[providers\n")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value).startswith(f"{path}: invalid TOML: ")
    assert "\n" not in str(info.value)


def test_not_utf8_and_unreadable(clean_env: Path) -> None:
    path = clean_env / "cfg.toml"
    path.write_bytes(b'host = "\xff"\n')
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value) == f"{path}: the config file is not UTF-8"
    directory = clean_env / "dir.toml"
    directory.mkdir()
    with pytest.raises(ConfigError) as info:
        load(directory)
    assert str(info.value) == f"{directory}: cannot read the config file: Is a directory"


def test_missing_file_is_empty(clean_env: Path) -> None:
    assert read_config_file(clean_env / "missing.toml") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bogus = 1\n", "unknown key 'bogus'"),
        ("[display]\nwarn = 1\n", "unknown key 'display.warn'"),
        ("[status]\nevery = 1\n", "unknown key 'status.every'"),
        ("[cost]\nnope = true\n", "unknown key 'cost.nope'"),
        ("port = 70000\n", "port: Input should be less than or equal to 65535 (got 70000)"),
        ("port = 0\n", "port: Input should be greater than or equal to 1 (got 0)"),
        (
            'port = "http"\n',
            "port: Input should be a valid integer, unable to parse string as an integer (got 'http')",
        ),
        (
            "default_interval_seconds = -5\n",
            "default_interval_seconds: Input should be greater than 0 (got -5)",
        ),
        (
            "[providers.zai]\ninterval_seconds = -5\n",
            "providers.zai.interval_seconds: Input should be greater than 0 (got -5)",
        ),
        (
            "[status]\ninterval_seconds = 0\n",
            "status.interval_seconds: Input should be greater than 0 (got 0)",
        ),
        (
            '[providers.zai]\ncookie_source = "always"\n',
            "providers.zai.cookie_source: Input should be 'auto', 'manual' or 'off' (got 'always')",
        ),
        (
            "[display]\ncritical_percent = 101\n",
            "display.critical_percent: Input should be less than or equal to 100 (got 101)",
        ),
        (
            '[upstream_overrides]\n"https://api.z.ai" = "ftp://127.0.0.1/zai"\n',
            "upstream_overrides: Value error, 'ftp://127.0.0.1/zai' is not an http(s) URL",
        ),
        (
            '[upstream_overrides]\n"api.z.ai" = "http://127.0.0.1:9000"\n',
            "upstream_overrides: Value error, 'api.z.ai' is not an http(s) URL",
        ),
        (
            '[[providers.codex.accounts]]\nlabel = "my work"\n',
            "providers.codex.accounts[0].label: Value error, "
            "labels use only letters, digits, '_', '.' and '-' (got 'my work')",
        ),
        (
            '[[providers.codex.accounts]]\nlabel = "ok"\n[[providers.codex.accounts]]\nlabel = "bad/label"\n',
            "providers.codex.accounts[1].label: Value error, "
            "labels use only letters, digits, '_', '.' and '-' (got 'bad/label')",
        ),
        (
            "[[providers.codex.accounts]]\ncodex_home = '~/x'\n",
            "providers.codex.accounts[0].label: Field required",
        ),
    ],
)
def test_invalid_values_are_one_line_errors(clean_env: Path, text: str, message: str) -> None:
    path = write(clean_env / "cfg.toml", text)
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value) == f"{path}: {message}"


@pytest.mark.parametrize(
    "text",
    [
        'token = 12345678\n',
        "[providers.zai]\napi_key = 12345678\n",
        "[providers.zai]\ncookie_header = 12345678\n",
    ],
)
def test_invalid_secret_values_are_not_echoed(clean_env: Path, text: str) -> None:
    path = write(clean_env / "cfg.toml", text)
    with pytest.raises(ConfigError) as info:
        load(path)
    assert "12345678" not in str(info.value)
    assert "Input should be a valid string" in str(info.value)


def test_invalid_env_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEXBARD_PROVIDERS__ZAI__INTERVAL_SECONDS", "-1")
    with pytest.raises(ConfigError) as info:
        load()
    assert "providers.zai.interval_seconds: Input should be greater than 0 (got '-1')" in str(info.value)


def test_config_path(clean_env: Path) -> None:
    home = str(clean_env)
    default = clean_env / ".config" / "codexbard" / "config.toml"
    assert config_path({"HOME": home}) == default
    xdg = {"HOME": home, "XDG_CONFIG_HOME": "/xdg/cfg"}
    assert config_path(xdg) == Path("/xdg/cfg/codexbard/config.toml")
    assert config_path({"HOME": home, "XDG_CONFIG_HOME": "relative"}) == default
    assert config_path({"HOME": home, "XDG_CONFIG_HOME": "/xdg/cfg", "CODEXBARD_CONFIG": "~/my.toml"}) == (
        clean_env / "my.toml"
    )
    explicit = {"HOME": home, "CODEXBARD_CONFIG": "/etc/codexbard.toml"}
    assert config_path(explicit) == Path("/etc/codexbard.toml")


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS uses ~/Library/Application Support")
def test_default_data_dir(clean_env: Path) -> None:
    home = str(clean_env)
    default = clean_env / ".local" / "share" / "codexbard"
    assert default_data_dir({"HOME": home}) == default
    assert default_data_dir({"HOME": home, "XDG_DATA_HOME": "/xdg/data"}) == Path("/xdg/data/codexbard")
    assert default_data_dir({"HOME": home, "XDG_DATA_HOME": "rel"}) == default


def test_data_dir_from_env(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEXBARD_DATA_DIR", "~/elsewhere")
    _, paths = load()
    assert paths.data_dir == clean_env / "elsewhere"
    assert paths.database == clean_env / "elsewhere" / "codexbard.db"


def test_provider_and_account_models() -> None:
    assert ProviderConfig().values() == {
        "enabled": None,
        "source": "auto",
        "interval_seconds": None,
        "api_key": None,
        "cookie_header": None,
        "cookie_source": "auto",
    }
    assert AccountConfig(label="a.b-c_1").label == "a.b-c_1"
    with pytest.raises(ValueError, match="labels use only"):
        AccountConfig(label="")


# ------------------------------------------------------------------------------- hardening (issue 6, 11)


def config_at(clean_env: Path, text: str) -> Path:
    return write(clean_env / "cfg.toml", text)


def error_of(path: Path, env: dict[str, str] | None = None, registry: Registry | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings({**dict(os.environ), **(env or {})}, path, registry)
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("default_interval_seconds = 99999999999999999999\n",
         "default_interval_seconds: Input should be less than or equal to 604800 (got 99999999999999999999)"),
        ("default_interval_seconds = 9223372036854775807\n",
         "default_interval_seconds: Input should be less than or equal to 604800 (got 9223372036854775807)"),
        ("[providers.zai]\ninterval_seconds = 604801\n",
         "providers.zai.interval_seconds: Input should be less than or equal to 604800 (got 604801)"),
        ("[status]\ninterval_seconds = 99999999999999999999\n",
         "status.interval_seconds: Input should be less than or equal to 604800 (got 99999999999999999999)"),
        ("[cost]\ninterval_seconds = 9223372036854775807\n",
         "cost.interval_seconds: Input should be less than or equal to 604800 (got 9223372036854775807)"),
        ("refresh_timeout_seconds = inf\n",
         "refresh_timeout_seconds: Input should be less than or equal to 600 (got inf)"),
        ("port = 99999999999999999999\n",
         "port: Input should be less than or equal to 65535 (got 99999999999999999999)"),
        ("max_concurrent_polls = 9223372036854775807\n",
         "max_concurrent_polls: Input should be less than or equal to 256 (got 9223372036854775807)"),
        ('[cost.pricing."m"]\ninput = 1e300\n',
         "cost.pricing.m.input: Input should be less than or equal to 1000000 (got 1e+300)"),
        ("default_interval_seconds = true\n",
         "default_interval_seconds: Value error, must be a number, not true/false (got True)"),
        ("[providers.zai]\ninterval_seconds = true\n",
         "providers.zai.interval_seconds: Value error, must be a number, not true/false (got True)"),
        ("port = false\n", "port: Value error, must be a number, not true/false (got False)"),
        ("[display]\nwarning_percent = true\n",
         "display.warning_percent: Value error, must be a number, not true/false (got True)"),
    ],
)
def test_numbers_have_bounds_and_are_never_booleans(clean_env: Path, text: str, message: str) -> None:
    path = config_at(clean_env, text)
    assert error_of(path) == f"{path}: {message}"


def test_a_long_value_is_cut_in_the_message(clean_env: Path) -> None:
    path = config_at(clean_env, f'port = "{"x" * 500}"\n')
    assert error_of(path) == (
        f"{path}: port: Input should be a valid integer, unable to parse string as an integer (got '{'x' * 56}...)"
    )


def test_deep_nesting_names_the_file(clean_env: Path) -> None:
    path = config_at(clean_env, "x = " + "[" * 5000 + "]" * 5000 + "\n")
    assert error_of(path) == f"{path}: invalid TOML: values nested too deeply"


def test_a_byte_order_mark_is_accepted(clean_env: Path) -> None:
    path = clean_env / "cfg.toml"
    path.write_bytes("\ufeffport = 9001\n".encode())
    settings, _ = load(path)
    assert settings.port == 9001


def test_a_file_over_the_cap_is_refused_unread(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = clean_env / "cfg.toml"
    with path.open("wb") as handle:
        handle.truncate(MAX_CONFIG_BYTES + 1)
    assert error_of(path) == f"{path}: the config file is larger than 1048576 bytes; refused"
    exact = clean_env / "exact.toml"
    exact.write_bytes(b"#" * (MAX_CONFIG_BYTES - 1) + b"\n")
    assert load(exact)[0].port == 8765


def test_a_stream_without_a_size_is_cut_at_the_cap(clean_env: Path) -> None:
    # /dev/zero reports size 0 and never ends: read_config_text stops after the cap.
    assert error_of(Path("/dev/zero")) == "/dev/zero: the config file is larger than 1048576 bytes; refused"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CODEXBARD_DEFAULT_INTERVAL_SECONDS": "99999999999999999999"},
         "environment (CODEXBARD_DEFAULT_INTERVAL_SECONDS): default_interval_seconds: "
         "Input should be less than or equal to 604800 (got '99999999999999999999')"),
        ({"CODEXBARD_PROVIDERS__ZAI__INTERVAL_SECONDS": "9223372036854775807"},
         "environment (CODEXBARD_PROVIDERS__ZAI__INTERVAL_SECONDS): providers.zai.interval_seconds: "
         "Input should be less than or equal to 604800 (got '9223372036854775807')"),
        ({"CODEXBARD_UPSTREAM_OVERRIDES": "[" * 100_000},
         "environment (CODEXBARD_UPSTREAM_OVERRIDES): nested too deeply for this setting"),
        ({"CODEXBARD_HOST": "h" * (MAX_CONFIG_BYTES + 1)},
         "environment (CODEXBARD_HOST): longer than 1048576 bytes; refused"),
    ],
)
def test_env_values_follow_the_same_rules(clean_env: Path, env: dict[str, str], message: str) -> None:
    assert error_of(clean_env / "none.toml", env) == message


def spec(provider_id: str, minimum: int, default: int | None = None) -> ProviderSpec:
    return ProviderSpec(id=provider_id, display_name=provider_id.capitalize(), strategies=(ScriptedStrategy([]),),
                        min_interval_seconds=minimum, default_interval_seconds=default)


REGISTRY = Registry([spec("fast", 60), spec("slow", 300), spec("own", 600, default=900)])


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("[providers.slow]\ninterval_seconds = 120\n", {},
         "{path}: providers.slow.interval_seconds: 120 s is below the minimum for Slow (300 s)"),
        ("", {"CODEXBARD_PROVIDERS__FAST__INTERVAL_SECONDS": "30"},
         "environment (CODEXBARD_PROVIDERS__FAST__INTERVAL_SECONDS): providers.fast.interval_seconds: "
         "30 s is below the minimum for Fast (60 s)"),
        ("default_interval_seconds = 5\n", {},
         "{path}: default_interval_seconds: 5 s is below the lowest provider minimum (60 s)"),
    ],
)
def test_an_interval_below_the_minimum_is_refused_where_it_is_set(
    clean_env: Path, text: str, env: dict[str, str], message: str
) -> None:
    path = config_at(clean_env, text)
    assert error_of(path, env, REGISTRY) == message.format(path=path)


def test_a_default_interval_between_minimums_is_accepted(clean_env: Path) -> None:
    # 120 s is fine for `fast`; `slow` falls back to it and is raised to its own minimum by the registry.
    path = config_at(clean_env, "default_interval_seconds = 120\n[providers.slow]\ninterval_seconds = 300\n")
    settings, _ = load_settings(dict(os.environ), path, REGISTRY)
    assert settings.default_interval_seconds == 120
    check_intervals(settings, REGISTRY, str(path))


def test_redact_url() -> None:
    assert redact_url("http://user:pa55word@proxy.lan:3128/zai") == "http://user:***@proxy.lan:3128/zai"
    assert redact_url("https://token@mirror.example/") == "https://***@mirror.example/"
    assert redact_url("https://api.z.ai/api") == "https://api.z.ai/api"
    assert redact_url("http://[bad") == "***"


def test_tolerant_loading_drops_bad_keys_and_names_them(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = config_at(clean_env, "port = 9002\ncolour = 1\n[display]\nwarning_percent = 500\n"
                                "[providers.slow]\ninterval_seconds = 10\n")
    monkeypatch.setenv("CODEXBARD_MAX_CONCURRENT_POLLS", "0")
    loaded = load_settings_tolerant(dict(os.environ), path, REGISTRY)
    assert loaded.settings.port == 9002
    assert loaded.settings.display.warning_percent == 75
    assert loaded.settings.max_concurrent_polls == 32
    assert loaded.settings.providers == {}
    assert loaded.problems == [
        "environment (CODEXBARD_MAX_CONCURRENT_POLLS): max_concurrent_polls: "
        "Input should be greater than or equal to 1 (got '0')",
        f"{path}: display.warning_percent: Input should be less than or equal to 100 (got 500)",
        f"{path}: unknown key 'colour'",
        f"{path}: providers.slow.interval_seconds: 10 s is below the minimum for Slow (300 s)",
    ]


def test_tolerant_loading_of_an_unparsable_file_uses_defaults(clean_env: Path) -> None:
    path = config_at(clean_env, "port = \n")
    loaded = load_settings_tolerant(dict(os.environ), path)
    assert loaded.settings.port == 8765
    assert len(loaded.problems) == 1 and loaded.problems[0].startswith(f"{path}: invalid TOML: ")


def test_an_invalid_override_never_echoes_its_password(clean_env: Path) -> None:
    path = config_at(clean_env, '[upstream_overrides]\n"https://api.z.ai" = "ftp://me:hunter2-secret@proxy/zai"\n')
    message = error_of(path)
    assert message == f"{path}: upstream_overrides: Value error, 'ftp://me:***@proxy/zai' is not an http(s) URL"
