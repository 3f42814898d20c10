"""`codexbard config path|show|set|set-secret`."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest

from codexbard.cli.config import secret_fields
from codexbard.providers.registry import default_registry
from tests.cli import base_env, config_file, known_ids, run, secrets_file

SECRET = "zai-set-secret-value-4242"

EXISTING = """\
# codexbard config, edited by hand
port = 9000   # not the default

[display]
# warn a bit earlier
warning_percent = 70

[providers.zai]
region = "global"  # or bigmodel-cn
"""


def from_header(lines: list[str], header: str) -> list[str]:
    """The lines from one provider's header on (providers are listed in registry order, Claude first)."""
    return lines[lines.index(header):]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_config(home: Path, text: str, file_mode: int = 0o644) -> Path:
    path = config_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(file_mode)
    return path


def feed_stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


# ------------------------------------------------------------------------------------------------- path


def test_path_default_is_under_home(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = base_env(clean_env)
    del env["XDG_CONFIG_HOME"]
    result = run(capsys, env, "config", "path")
    assert (result.code, result.out, result.err) == (0, f"{clean_env}/.config/codexbard/config.toml\n", "")


def test_path_follows_xdg_config_home(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = base_env(clean_env, XDG_CONFIG_HOME=str(clean_env / "xdg"))
    result = run(capsys, env, "config", "path")
    assert (result.code, result.out) == (0, f"{clean_env}/xdg/codexbard/config.toml\n")


def test_path_ignores_a_relative_xdg_config_home(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = base_env(clean_env, XDG_CONFIG_HOME="relative/dir")
    result = run(capsys, env, "config", "path")
    assert result.out == f"{clean_env}/.config/codexbard/config.toml\n"


def test_path_codexbard_config_wins(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = base_env(clean_env, CODEXBARD_CONFIG=str(clean_env / "elsewhere" / "cb.toml"),
                   XDG_CONFIG_HOME=str(clean_env / "xdg"))
    result = run(capsys, env, "config", "path")
    assert (result.code, result.out) == (0, f"{clean_env}/elsewhere/cb.toml\n")
    tilde = run(capsys, base_env(clean_env, CODEXBARD_CONFIG="~/cb/config.toml"), "config", "path")
    assert tilde.out == f"{clean_env}/cb/config.toml\n"


def test_path_config_flag_wins_and_expands_home_of_the_given_env(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # HOME of the env mapping, not of os.environ
    other_home = clean_env / "other-home"
    env = base_env(other_home, CODEXBARD_CONFIG=str(clean_env / "elsewhere.toml"))
    result = run(capsys, env, "config", "path", "--config", "~/flag.toml")
    assert (result.code, result.out) == (0, f"{other_home}/flag.toml\n")


# ------------------------------------------------------------------------------------------------- show


DEFAULT_SHOW = """\
host = "127.0.0.1"
port = 8765
default_interval_seconds = 300
refresh_timeout_seconds = 30.0
redact_identity = false
allowed_hosts = []
max_concurrent_polls = 32
log_level = "info"
event_loop = "auto"
data_dir = "{data_dir}"

[upstream_overrides]

[display]
warning_percent = 75
critical_percent = 90

[status]
enabled = true
interval_seconds = 300

[cost]
enabled = true
interval_seconds = 300
history_days = 30
pricing_refresh = false

[cost.pricing]

[providers]
"""


def test_show_defaults_without_a_file(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, base_env(clean_env), "config", "show")
    assert result.code == 0
    assert result.err == ""
    header = f"# effective settings (file: {config_file(clean_env)}; secrets shown as ***)\n"
    assert result.out == header + DEFAULT_SHOW.format(data_dir=f"{clean_env}/.local/share/codexbard")
    assert not config_file(clean_env).exists()


def test_show_redacts_secrets_from_file_and_env(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_config(clean_env, (
        f'[providers.zai]\napi_key = "{SECRET}"\nregion = "bigmodel-cn"\n'
        f'[[providers.zai.accounts]]\nlabel = "work"\napi_key = "{SECRET}-work"\n'
    ))
    env = base_env(clean_env, CODEXBARD_TOKEN="bearer-token-secret-1", CODEXBARD_PORT="9100")
    result = run(capsys, env, "config", "show")
    assert result.code == 0
    assert SECRET not in result.out + result.err
    assert "bearer-token-secret-1" not in result.out + result.err
    lines = result.out.splitlines()
    assert 'token = "***"' in lines
    assert "port = 9100" in lines  # env wins over defaults
    zai = lines.index("[providers.zai]")
    assert lines[zai:zai + 5] == ['[providers.zai]', 'source = "auto"', 'api_key = "***"', 'cookie_source = "auto"',
                                  'region = "bigmodel-cn"']
    account = lines.index("[[providers.zai.accounts]]")
    assert lines[account:account + 3] == ["[[providers.zai.accounts]]", 'label = "work"', 'api_key = "***"']


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("port = \n", "invalid TOML"),
        ('port = "x"\n', "port: Input should be a valid integer"),
        ("colour = 1\n", "unknown key 'colour'"),
    ],
)
def test_show_invalid_file_prints_the_rest_and_exits_2(clean_env: Path, capsys: pytest.CaptureFixture[str],
                                                      text: str, problem: str) -> None:
    # Changed deliberately (issue 6, item 10): `config show` used to print nothing for an invalid config.
    path = write_config(clean_env, text + "redact_identity = true\n" if "TOML" not in problem else text)
    written = path.read_text()
    result = run(capsys, base_env(clean_env), "config", "show")
    assert result.code == 2
    lines = result.out.splitlines()
    assert lines[0] == (f"# effective settings (file: {path}; secrets shown as ***; "
                        "invalid keys left out, see stderr)")
    assert "port = 8765" in lines
    if "TOML" not in problem:
        assert "redact_identity = true" in lines  # the valid keys still apply
    assert result.err.startswith(f"codexbard: config error: {path}: ")
    assert problem in result.err
    assert result.err.count("\n") == 1
    assert path.read_text() == written


def test_show_with_config_flag(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = clean_env / "other.toml"
    other.write_text("port = 9999\n")
    result = run(capsys, base_env(clean_env), "config", "show", "--config", str(other))
    assert result.code == 0
    assert result.out.splitlines()[0] == f"# effective settings (file: {other}; secrets shown as ***)"
    assert "port = 9999" in result.out.splitlines()


# -------------------------------------------------------------------------------------------------- set


def test_set_creates_a_missing_file_with_mode_0600(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config_file(clean_env)
    result = run(capsys, base_env(clean_env), "config", "set", "providers.zai.region", "bigmodel-cn")
    assert result.code == 0
    assert result.out == f"set providers.zai.region in {path}\n"
    assert result.err == ""
    assert path.read_text() == '[providers.zai]\nregion = "bigmodel-cn"\n'
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700


def test_set_quoted_key_and_then_the_value_is_used(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = base_env(clean_env)
    key = 'upstream_overrides."https://api.z.ai"'
    result = run(capsys, env, "config", "set", key, "http://127.0.0.1:9000/zai")
    assert result.code == 0
    assert result.out == f"set {key} in {config_file(clean_env)}\n"
    assert config_file(clean_env).read_text() == (
        '[upstream_overrides]\n"https://api.z.ai" = "http://127.0.0.1:9000/zai"\n'
    )
    doctor = run(capsys, env, "doctor")
    assert "overrides:     https://api.z.ai -> http://127.0.0.1:9000/zai" in doctor.out.splitlines()


def test_set_edits_in_place_keeping_comments_and_layout(clean_env: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(clean_env, EXISTING)
    env = base_env(clean_env)
    assert run(capsys, env, "config", "set", "port", "9100").code == 0
    assert run(capsys, env, "config", "set", "display.critical_percent", "95").code == 0
    assert run(capsys, env, "config", "set", "providers.zai.region", "bigmodel-cn").code == 0
    assert run(capsys, env, "config", "set", "providers.zai.usage_scope", "team").code == 0
    assert run(capsys, env, "config", "set", "redact_identity", "true").code == 0
    assert path.read_text() == """\
# codexbard config, edited by hand
port = 9100   # not the default
redact_identity = true

[display]
# warn a bit earlier
warning_percent = 70
critical_percent = 95

[providers.zai]
region = "bigmodel-cn"  # or bigmodel-cn
usage_scope = "team"
"""
    # an existing file keeps its mode
    assert mode(path) == 0o644
    show = run(capsys, env, "config", "show")
    assert show.code == 0
    assert {"port = 9100", "redact_identity = true", "critical_percent = 95.0"} <= set(show.out.splitlines())


def test_set_new_provider_table_in_an_existing_file(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(clean_env, "# just a comment\nport = 9000\n")
    result = run(capsys, base_env(clean_env), "config", "set", "providers.warp.interval_seconds", "600")
    assert result.code == 0
    assert path.read_text() == "# just a comment\nport = 9000\n\n[providers.warp]\ninterval_seconds = 600\n"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("providers.zai.region", "mars",
         "codexbard: not saved: providers.zai.region: must be one of 'global', 'bigmodel-cn'\n"),
        ("port", "-1", "codexbard: not saved: {path}: port: Input should be greater than or equal to 1 (got -1)\n"),
        ("port", "http", "codexbard: not saved: {path}: port: Input should be a valid integer, "
                         "unable to parse string as an integer (got 'http')\n"),
        ("colour", "blue", "codexbard: not saved: {path}: unknown key 'colour'\n"),
        ("providers.nope.enabled", "true",
         f"codexbard: not saved: unknown provider 'providers.nope' (known: {known_ids()})\n"),
        ("providers.zai.source", "web",
         "codexbard: not saved: providers.zai.source: 'web' is not accepted by z.ai (one of: auto, api)\n"),
        ("port.x", "1", "codexbard: 'port' in port.x is not a table\n"),
        ("a b", "1", "codexbard: 'a b' is not a valid key (use dotted TOML keys like providers.zai.region)\n"),
    ],
)
def test_set_refuses_invalid_values_and_leaves_the_file_unchanged(
    clean_env: Path, capsys: pytest.CaptureFixture[str], key: str, value: str, message: str
) -> None:
    path = write_config(clean_env, EXISTING)
    before = path.read_bytes()
    result = run(capsys, base_env(clean_env), "config", "set", key, value)
    assert result.code == 2
    assert result.out == ""
    assert result.err == message.format(path=path)
    assert path.read_bytes() == before
    assert mode(path) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]  # no temporary file left


def test_set_refused_on_a_missing_file_creates_nothing(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, base_env(clean_env), "config", "set", "port", "-1")
    assert result.code == 2
    assert not config_file(clean_env).exists()


def test_set_refuses_a_file_that_does_not_parse(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "# broken\nport = \n[display\n"
    path = write_config(clean_env, text)
    result = run(capsys, base_env(clean_env), "config", "set", "port", "9100")
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith(f"codexbard: {path} does not parse (")
    assert result.err.endswith("); fix it first, nothing was changed\n")
    assert path.read_text() == text


@pytest.mark.parametrize("key", ["providers.zai.api_key", "token", "providers.warp.cookie_header",
                                 "providers.openrouter.api_key"])
def test_set_refuses_secret_keys(clean_env: Path, capsys: pytest.CaptureFixture[str], key: str) -> None:
    path = write_config(clean_env, EXISTING)
    result = run(capsys, base_env(clean_env), "config", "set", key, SECRET)
    assert result.code == 2
    assert result.out == ""
    assert result.err == (
        f"codexbard: '{key}' is a secret; use `codexbard config set-secret` so it never sits in the config file\n"
    )
    assert SECRET not in result.err
    assert path.read_text() == EXISTING


def test_set_validates_the_file_not_the_environment(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # A broken CODEXBARD_* variable, in os.environ or in the env mapping, is not the file's problem.
    monkeypatch.setenv("CODEXBARD_PORT", "not-a-port")
    env = base_env(clean_env, CODEXBARD_DEFAULT_INTERVAL_SECONDS="soon")
    result = run(capsys, env, "config", "set", "display.warning_percent", "60")
    assert result.code == 0, result.err
    assert config_file(clean_env).read_text() == "[display]\nwarning_percent = 60\n"


def test_set_with_config_flag_writes_that_file(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other_home = clean_env / "other-home"
    target = other_home / "custom" / "cb.toml"
    result = run(capsys, base_env(other_home), "config", "set", "port", "9300", "--config", "~/custom/cb.toml")
    assert result.code == 0
    assert result.out == f"set port in {target}\n"
    assert target.read_text() == "port = 9300\n"
    assert mode(target) == 0o600
    assert not config_file(clean_env).exists()


# ------------------------------------------------------------------------------------------- set-secret


def test_set_secret_stores_into_the_secrets_file(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    feed_stdin(monkeypatch, f"  {SECRET}  \n")
    path = secrets_file(clean_env)
    result = run(capsys, base_env(clean_env), "config", "set-secret", "--provider", "zai", "--stdin")
    assert result.code == 0
    assert result.out == f"stored zai:api_key in secrets file {path}\n"
    assert result.err == ""
    assert SECRET not in result.out + result.err
    assert path.read_text() == f'"zai:api_key" = "{SECRET}"\n'
    assert mode(path) == 0o600
    assert not config_file(clean_env).exists()  # the config file is never touched


def test_set_secret_account_and_field(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    spec = next(s for s in default_registry() if s.account_setting_keys() and "api_key" in s.secret_fields())
    field = secret_fields(spec)[0]
    write_config(clean_env, f'[[providers.{spec.id}.accounts]]\nlabel = "work"\n')
    env = base_env(clean_env)
    feed_stdin(monkeypatch, f"{SECRET}\n")
    first = run(capsys, env, "config", "set-secret", "--provider", spec.id, "--stdin")
    assert first.code == 0
    feed_stdin(monkeypatch, "account-value-777\n")
    result = run(capsys, env, "config", "set-secret", "--provider", spec.id, "--account", "work",
                 "--field", field, "--stdin")
    assert result.code == 0
    assert result.out == f"stored {spec.id}@work:{field} in secrets file {secrets_file(clean_env)}\n"
    assert "account-value-777" not in result.out + result.err
    # both entries kept, sorted, still 0600
    assert secrets_file(clean_env).read_text() == (
        f'"{spec.id}:api_key" = "{SECRET}"\n"{spec.id}@work:{field}" = "account-value-777"\n'
    )
    assert mode(secrets_file(clean_env)) == 0o600


def test_set_secret_defaults_to_a_providers_only_secret_field(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    spec = next(s for s in default_registry() if len(secret_fields(s)) == 1 and "api_key" not in secret_fields(s))
    feed_stdin(monkeypatch, f"{SECRET}\n")
    result = run(capsys, base_env(clean_env), "config", "set-secret", "--provider", spec.id, "--stdin")
    assert result.code == 0
    field = secret_fields(spec)[0]
    assert result.out == f"stored {spec.id}:{field} in secrets file {secrets_file(clean_env)}\n"
    assert secrets_file(clean_env).read_text() == f'"{spec.id}:{field}" = "{SECRET}"\n'


def test_set_secret_replaces_an_existing_value(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    env = base_env(clean_env)
    feed_stdin(monkeypatch, "old-value-1\n")
    assert run(capsys, env, "config", "set-secret", "--provider", "warp", "--stdin").code == 0
    feed_stdin(monkeypatch, "new-value-2\n")
    assert run(capsys, env, "config", "set-secret", "--provider", "warp", "--stdin").code == 0
    assert secrets_file(clean_env).read_text() == '"warp:api_key" = "new-value-2"\n'


def test_set_secret_reads_piped_stdin_without_the_flag(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    feed_stdin(monkeypatch, f"{SECRET}\n")
    result = run(capsys, base_env(clean_env), "config", "set-secret", "--provider", "openrouter")
    assert result.code == 0
    assert secrets_file(clean_env).read_text() == f'"openrouter:api_key" = "{SECRET}"\n'
    assert SECRET not in result.out + result.err


@pytest.mark.parametrize("text", ["", "\n", "   \n", "\nsecret-on-the-second-line\n"])
def test_set_secret_empty_input_exit_2(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str], text: str) -> None:
    feed_stdin(monkeypatch, text)
    result = run(capsys, base_env(clean_env), "config", "set-secret", "--provider", "zai", "--stdin")
    assert result.code == 2
    assert result.out == ""
    assert result.err == "codexbard: empty secret; nothing stored\n"
    assert not secrets_file(clean_env).exists()


def test_set_secret_unknown_provider_exit_2(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    feed_stdin(monkeypatch, f"{SECRET}\n")
    result = run(capsys, base_env(clean_env), "config", "set-secret", "--provider", "nope", "--stdin")
    assert result.code == 2
    assert result.out == ""
    assert result.err == f"codexbard: unknown provider 'nope' (known: {known_ids()})\n"
    assert not secrets_file(clean_env).exists()


@pytest.mark.parametrize("account", ["a:b", "two words", "x@y", ""])
def test_set_secret_invalid_account_label_exit_2(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str], account: str) -> None:
    feed_stdin(monkeypatch, f"{SECRET}\n")
    result = run(capsys, base_env(clean_env), "config", "set-secret", "--provider", "zai",
                 "--account", account, "--stdin")
    assert result.code == 2
    assert result.out == ""
    assert result.err == f"codexbard: --account '{account}': labels use only letters, digits, '_', '.' and '-'\n"
    assert not secrets_file(clean_env).exists()


def test_set_secret_refuses_an_insecure_secrets_file(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = secrets_file(clean_env)
    path.parent.mkdir(parents=True)
    path.write_text('"warp:api_key" = "other"\n')
    path.chmod(0o644)
    feed_stdin(monkeypatch, f"{SECRET}\n")
    result = run(capsys, base_env(clean_env), "config", "set-secret", "--provider", "zai", "--stdin")
    assert result.code == 1
    assert result.out == ""
    assert result.err == f"codexbard: could not store the secret in secrets file {path}: OSError\n"
    assert path.read_text() == '"warp:api_key" = "other"\n'


def test_set_secret_with_an_invalid_config_exit_2(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    write_config(clean_env, "port = \n")
    feed_stdin(monkeypatch, f"{SECRET}\n")
    result = run(capsys, base_env(clean_env), "config", "set-secret", "--provider", "zai", "--stdin")
    assert result.code == 2
    assert result.err.startswith("codexbard: config error: ")
    assert not secrets_file(clean_env).exists()


def test_stored_secret_enables_the_provider(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    env = base_env(clean_env)
    before = {i["id"]: i for i in run(capsys, env, "providers", "--format", "json").json()}
    assert before["zai"]["enabled"] is False
    feed_stdin(monkeypatch, f"{SECRET}\n")
    assert run(capsys, env, "config", "set-secret", "--provider", "zai", "--stdin").code == 0
    result = run(capsys, env, "providers", "--format", "json")
    assert result.code == 0
    zai = {i["id"]: i for i in result.json()}["zai"]
    assert zai["enabled"] is True
    assert zai["enabledReason"] == "credentials detected"
    assert zai["strategies"][0]["available"] is True
    assert zai["strategies"][0]["reason"] == f"API key from secrets file {secrets_file(clean_env)}"
    text = run(capsys, env, "providers")
    assert from_header(text.out.splitlines(), "zai          enabled")[:2] == [
        "zai          enabled",
        f"    api (api) available: API key from secrets file {secrets_file(clean_env)}",
    ]
    doctor = run(capsys, env, "doctor")
    assert f"  ok api: API key from secrets file {secrets_file(clean_env)}" in doctor.out.splitlines()
    for output in (result, text, doctor):
        assert SECRET not in output.out + output.err
    # an env key still wins over the store
    env_key = run(capsys, base_env(clean_env, Z_AI_API_KEY="env-key-1"), "providers", "--format", "json")
    zai_info = next(i for i in json.loads(env_key.out) if i["id"] == "zai")
    assert zai_info["strategies"][0]["reason"] == "API key from env Z_AI_API_KEY"


def test_stored_account_secret_enables_that_account(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    write_config(clean_env, '[[providers.zai.accounts]]\nlabel = "work"\n')
    env = base_env(clean_env)
    feed_stdin(monkeypatch, f"{SECRET}\n")
    stored = run(capsys, env, "config", "set-secret", "--provider", "zai", "--account", "work", "--stdin")
    assert stored.out == f"stored zai@work:api_key in secrets file {secrets_file(clean_env)}\n"
    doctor = run(capsys, env, "doctor")
    lines = doctor.out.splitlines()
    index = lines.index("zai:work: enabled")
    assert lines[index + 1] == f"  ok api: API key from secrets file {secrets_file(clean_env)}"
    assert SECRET not in doctor.out
