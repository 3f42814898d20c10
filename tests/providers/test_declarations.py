"""What a ProviderSpec declares: env vars, typed settings models, secret fields, the env a context sees."""

from __future__ import annotations

import tomllib
from typing import Literal

import pytest
from pydantic import Field, SecretStr

from codexbard.config import Settings, validate_provider_table
from codexbard.errors import ConfigError
from codexbard.host.credentials import Secret
from codexbard.models import UsageSnapshot
from codexbard.providers.base import (
    ApiKey,
    ApiKeyStrategy,
    ConfigKey,
    EnvVar,
    FetchContext,
    ProviderSettings,
    ProviderSpec,
)
from codexbard.providers.registry import Registry, poll_targets


class OmegaSettings(ProviderSettings):
    """Typed `[providers.omega]` keys."""

    region: Literal["eu", "us"] = Field("eu", description="where the account lives")
    team_id: str | None = Field(None, description="the team to report on")
    verbose: bool = False
    max_items: int = Field(10, ge=1, le=100)


class OmegaAccount(OmegaSettings):
    """One omega account: the provider keys plus its own token."""

    token: SecretStr | None = Field(None, description="this account's token")
    home: str | None = None


class OmegaApi(ApiKeyStrategy):
    key = ApiKey("Omega", env_vars=("OMEGA_API_KEY", "OMEGA_TOKEN"), opt_in_env_vars=("GENERIC_KEY",))

    async def fetch_with_key(self, ctx: FetchContext, key: Secret) -> UsageSnapshot:
        raise AssertionError("not called")


OMEGA = ProviderSpec(
    id="omega",
    display_name="Omega",
    strategies=(OmegaApi(),),
    settings=OmegaSettings,
    account_settings=OmegaAccount,
    env=(EnvVar("OMEGA_TOKEN", "Omega key when OMEGA_API_KEY is not set", secret=True),
         EnvVar("OMEGA_API_URL", "API base URL")),
)


def targets(text: str) -> list[dict[str, object]]:
    return [p.options for p in poll_targets(Settings(**tomllib.loads(text)), Registry((OMEGA,)))]


def error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        targets(text)
    return str(caught.value)


def test_env_vars_join_declared_ones_and_the_api_key_names() -> None:
    assert OMEGA.env_vars == (
        EnvVar("OMEGA_TOKEN", "Omega key when OMEGA_API_KEY is not set", secret=True),
        EnvVar("OMEGA_API_URL", "API base URL"),
        EnvVar("OMEGA_API_KEY", "Omega API key", secret=True),
        EnvVar("GENERIC_KEY", "Omega API key, read only with `[providers.omega] enabled = true`", secret=True),
    )
    assert OMEGA.env_names() == frozenset({"OMEGA_TOKEN", "OMEGA_API_URL", "OMEGA_API_KEY", "GENERIC_KEY"})


def test_secret_fields_come_from_api_keys_and_secret_settings() -> None:
    assert OMEGA.secret_fields() == ("api_key", "token")
    legacy = ProviderSpec(id="x", display_name="X", strategies=(OmegaApi(),),
                          account_keys=(ConfigKey("oauth_token", secret=True), ConfigKey("home")))
    assert legacy.secret_fields() == ("api_key", "oauth_token")


def test_visible_env_keeps_declared_and_host_variables_only() -> None:
    env = {"OMEGA_API_KEY": "k", "OMEGA_API_URL": "u", "OPENROUTER_API_KEY": "other", "HOME": "/h",
           "PATH": "/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "XDG_DATA_HOME": "/d", "AWS_SECRET_ACCESS_KEY": "a",
           "CODEXBARD_TOKEN": "t"}
    assert OMEGA.visible_env(env) == {"OMEGA_API_KEY": "k", "OMEGA_API_URL": "u", "HOME": "/h", "PATH": "/bin",
                                      "LANG": "C.UTF-8", "LC_ALL": "C", "XDG_DATA_HOME": "/d"}


def test_config_keys_are_described_from_the_model() -> None:
    assert OMEGA.config_key("region") == ConfigKey("region", choices=("eu", "us"), default="eu",
                                                   help="where the account lives")
    assert OMEGA.config_key("verbose") == ConfigKey("verbose", type=bool, default=False)
    assert OMEGA.config_key("max_items") == ConfigKey("max_items", type=int, default=10)
    assert OMEGA.config_key("token") is None
    assert OMEGA.account_key("token") == ConfigKey("token", secret=True, help="this account's token")
    assert [k.name for k in OMEGA.setting_keys()] == ["region", "team_id", "verbose", "max_items"]


def test_defaults_and_typed_values() -> None:
    (defaults,) = targets("")
    assert {k: defaults[k] for k in ("region", "team_id", "verbose", "max_items")} == {
        "region": "eu", "team_id": None, "verbose": False, "max_items": 10}
    (options,) = targets("[providers.omega]\nregion = 'us'\nverbose = true\nmax_items = 25\nteam_id = 't'\n")
    assert {k: options[k] for k in ("region", "team_id", "verbose", "max_items")} == {
        "region": "us", "team_id": "t", "verbose": True, "max_items": 25}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("region = 'asia'", "providers.omega.region: must be one of 'eu', 'us'"),
        ("team_id = 42", "providers.omega.team_id: must be a string"),
        ("verbose = 'maybe'", "providers.omega.verbose: must be true or false"),
        ("max_items = 'many'", "providers.omega.max_items: must be an integer"),
        ("max_items = 1.5", "providers.omega.max_items: must be an integer"),
        ("max_items = 1000", "providers.omega.max_items: input should be less than or equal to 100"),
        ("bogus = 1", "unknown key 'providers.omega.bogus' (provider omega does not declare it)"),
        ("token = 's3cret-value'", "unknown key 'providers.omega.token' (provider omega does not declare it)"),
    ],
)
def test_bad_values_name_the_key_in_one_line(line: str, message: str) -> None:
    assert error(f"[providers.omega]\n{line}\n") == message


def test_accounts_keep_only_what_they_set_and_secrets_stay_wrapped() -> None:
    work, home = targets(
        "[providers.omega]\nregion = 'us'\n"
        "[[providers.omega.accounts]]\nlabel = 'work'\ntoken = 'tok-secret-123'\n"
        "[[providers.omega.accounts]]\nlabel = 'home'\nregion = 'eu'\nhome = '~/.omega'\n"
    )
    assert work["region"] == "us" and work["token"] == SecretStr("tok-secret-123")
    assert "home" not in work
    assert home["region"] == "eu" and home["home"] == "~/.omega" and "token" not in home


def test_account_errors_never_echo_a_secret() -> None:
    message = error("[[providers.omega.accounts]]\nlabel = 'a'\ntoken = ['tok-secret-123']\n")
    assert message == "providers.omega.accounts[0].token: must be a string"


def test_a_provider_without_account_settings_refuses_accounts() -> None:
    plain = ProviderSpec(id="plain", display_name="Plain", strategies=(OmegaApi(),), settings=OmegaSettings)
    assert plain.account_settings_model() is None
    data = tomllib.loads("[[providers.plain.accounts]]\nlabel = 'a'\n")
    with pytest.raises(ConfigError) as caught:
        poll_targets(Settings(**data), Registry((plain,)))
    assert str(caught.value) == "providers.plain.accounts: Plain does not support several accounts"


def test_validate_provider_table_directly() -> None:
    assert validate_provider_table(OmegaSettings, {"region": "us"}, "providers.omega", "omega", only_set=True) == {
        "region": "us"}
    with pytest.raises(ConfigError, match=r"^providers\.omega\.region: must be one of 'eu', 'us'$"):
        validate_provider_table(OmegaSettings, {"region": None}, "providers.omega", "omega")
