"""Tests for codexbard.providers.registry: validating `[providers.*]` tables into poll targets."""

from __future__ import annotations

import logging
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from codexbard.config import Settings
from codexbard.errors import ConfigError, SpecError
from codexbard.models import UsageSnapshot
from codexbard.providers.base import Availability, ConfigKey, FetchContext, ProviderSpec, Strategy
from codexbard.providers.registry import PollTarget, Registry, default_registry, load_registry, poll_targets


class Api(Strategy):
    id = "api"
    kind = "api"
    source_label = "api"

    async def available(self, ctx: FetchContext) -> Availability:
        return Availability.yes()

    async def fetch(self, ctx: FetchContext) -> UsageSnapshot:
        return UsageSnapshot()


class Web(Strategy):
    id = "web"
    kind = "web"
    source_label = "web"

    async def available(self, ctx: FetchContext) -> Availability:
        return Availability.yes()

    async def fetch(self, ctx: FetchContext) -> UsageSnapshot:
        return UsageSnapshot()


ALPHA = ProviderSpec(
    id="alpha",
    display_name="Alpha",
    strategies=(Api(), Web()),
    default_interval_seconds=600,
    min_interval_seconds=300,
    config_keys=(
        ConfigKey("region", choices=("global", "cn"), default="global"),
        ConfigKey("team_id"),
        ConfigKey("verbose", type=bool, default=False),
        ConfigKey("max_items", type=int, default=10),
    ),
    account_keys=(ConfigKey("home"), ConfigKey("oauth_token", secret=True)),
)
BETA = ProviderSpec(id="beta", display_name="Beta", strategies=(Api(),))


def registry() -> Registry:
    return Registry((ALPHA, BETA))


def settings(text: str = "") -> Settings:
    return Settings(**tomllib.loads(text))


def targets(text: str = "") -> list[PollTarget]:
    return poll_targets(settings(text), registry())


def error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        targets(text)
    return str(info.value)


def test_registry_basics() -> None:
    reg = registry()
    assert reg.ids() == ["alpha", "beta"]
    assert len(reg) == 2
    assert "alpha" in reg and "gamma" not in reg
    assert reg.get("beta") is BETA
    assert list(reg) == [ALPHA, BETA]
    with pytest.raises(KeyError):
        reg.get("gamma")
    with pytest.raises(ValueError, match="duplicate provider id 'alpha'"):
        Registry((ALPHA, ALPHA))


def test_defaults_without_config() -> None:
    alpha, beta = targets()
    assert alpha.key == "alpha"
    assert alpha.account is None
    assert alpha.mode == "auto"
    assert alpha.interval_seconds == 600  # the descriptor's default
    assert alpha.enabled_setting is None
    assert alpha.options == {
        "region": "global",
        "team_id": None,
        "verbose": False,
        "max_items": 10,
        "enabled": None,
        "source": "auto",
        "interval_seconds": None,
        "api_key": None,
        "cookie_header": None,
        "cookie_source": "auto",
    }
    assert beta.interval_seconds == 300  # default_interval_seconds
    assert beta.spec is BETA


def test_provider_values_are_coerced() -> None:
    (alpha, _) = targets(
        """
[providers.alpha]
enabled = true
source = "web"
interval_seconds = 900
api_key = "ak-123"
region = "cn"
team_id = "t1"
verbose = "yes"
max_items = "25"
"""
    )
    assert alpha.enabled_setting is True
    assert alpha.mode == "web"
    assert alpha.interval_seconds == 900
    assert alpha.options["region"] == "cn"
    assert alpha.options["team_id"] == "t1"
    assert alpha.options["verbose"] is True
    assert alpha.options["max_items"] == 25
    assert alpha.options["api_key"] == SecretStr("ak-123")


def test_global_default_interval() -> None:
    _, beta = targets("default_interval_seconds = 120\n")
    assert beta.interval_seconds == 120


def test_unknown_provider_table() -> None:
    message = error("[providers.gamma]\nenabled = true\n")
    assert message == "unknown provider 'providers.gamma' (known: alpha, beta)"


def test_unknown_provider_key() -> None:
    assert error("[providers.beta]\nregion = 'cn'\n") == (
        "unknown key 'providers.beta.region' (provider beta does not declare it)"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("region = 'eu'", "providers.alpha.region: must be one of 'global', 'cn'"),
        ("region = 3", "providers.alpha.region: must be a string"),
        ("team_id = 42", "providers.alpha.team_id: must be a string"),
        ("verbose = 'maybe'", "providers.alpha.verbose: must be true or false"),
        ("verbose = 1", "providers.alpha.verbose: must be true or false"),
        ("max_items = 'many'", "providers.alpha.max_items: must be an integer"),
        ("max_items = true", "providers.alpha.max_items: must be an integer"),
        ("max_items = [1]", "providers.alpha.max_items: must be an integer"),
    ],
)
def test_typed_keys_name_the_key(line: str, message: str) -> None:
    assert error(f"[providers.alpha]\n{line}\n") == message


def test_source_not_accepted() -> None:
    assert error("[providers.beta]\nsource = 'web'\n") == (
        "providers.beta.source: 'web' is not accepted by Beta (one of: auto, api)"
    )


def test_interval_below_minimum_is_raised(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="codexbard.providers.registry")
    alpha, _ = targets("[providers.alpha]\ninterval_seconds = 60\n")
    assert alpha.interval_seconds == 300
    assert [r.getMessage() for r in caplog.records] == [
        "providers.alpha.interval_seconds = 60 is below the minimum for Alpha; using 300 s"
    ]


def test_global_interval_below_minimum_is_raised(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="codexbard.providers.registry")
    alpha, beta = targets("default_interval_seconds = 30\n")
    assert alpha.interval_seconds == 600
    assert beta.interval_seconds == 60
    assert "providers.beta.interval_seconds = 30 is below the minimum for Beta; using 60 s" in caplog.text


def test_accounts() -> None:
    work, personal = [
        p
        for p in targets(
            """
[providers.alpha]
region = "cn"
interval_seconds = 400
[[providers.alpha.accounts]]
label = "work"
home = "~/.alpha-work"
[[providers.alpha.accounts]]
label = "personal"
oauth_token = "tok"
region = "global"
"""
        )
        if p.spec is ALPHA
    ]
    assert (work.key, personal.key) == ("alpha:work", "alpha:personal")
    assert work.options["home"] == "~/.alpha-work"
    assert work.options["region"] == "cn"  # inherited from the provider table
    assert personal.options["region"] == "global"  # an account may override a provider key
    assert personal.options["oauth_token"] == "tok"
    assert "home" not in personal.options
    assert work.interval_seconds == personal.interval_seconds == 400
    assert "label" not in work.options


def test_account_key_errors() -> None:
    assert error("[[providers.alpha.accounts]]\nlabel = 'a'\nbogus = 1\n") == (
        "unknown key 'providers.alpha.accounts[0].bogus' (provider alpha does not declare it)"
    )
    assert error("[[providers.alpha.accounts]]\nlabel = 'a'\nregion = 'mars'\n") == (
        "providers.alpha.accounts[0].region: must be one of 'global', 'cn'"
    )
    assert error("[[providers.alpha.accounts]]\nlabel = 'a'\nhome = 5\n") == (
        "providers.alpha.accounts[0].home: must be a string"
    )


def test_accounts_on_a_provider_without_account_keys() -> None:
    assert error("[[providers.beta.accounts]]\nlabel = 'a'\n") == (
        "providers.beta.accounts: Beta does not support several accounts"
    )


def test_duplicate_labels() -> None:
    text = "[[providers.alpha.accounts]]\nlabel = 'a'\n[[providers.alpha.accounts]]\nlabel = 'a'\n"
    assert error(text) == "providers.alpha.accounts[1].label: duplicate label 'a'"


@pytest.mark.parametrize("label", ["my work", "a/b", "", "ü", "a:b"])
def test_bad_label_characters(label: str) -> None:
    with pytest.raises(ValueError, match=re.escape("labels use only letters, digits, '_', '.' and '-'")):
        settings(f"[[providers.alpha.accounts]]\nlabel = {label!r}\n")


def test_empty_accounts_list_polls_nothing() -> None:
    data: dict[str, Any] = {"providers": {"alpha": {"accounts": []}}}
    assert [p.key for p in poll_targets(Settings(**data), registry())] == ["beta"]



# -- ProviderSpec validation -----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategies": (Api(), Api())}, "duplicate strategy ids: api"),
        ({"strategies": ()}, "it has no strategies"),
        ({"source_modes": {"auto": ("api",), "web": ("web", "cookie")}},
         "source mode 'web' names unknown strategies: web, cookie"),
        ({"source_modes": {"api": ("api",)}}, "source_modes has no 'auto' mode"),
        ({"min_interval_seconds": 0}, "min_interval_seconds must be a positive integer"),
        ({"min_interval_seconds": True}, "min_interval_seconds must be a positive integer"),
        ({"default_interval_seconds": 30, "min_interval_seconds": 60},
         "default_interval_seconds must be an integer at least min_interval_seconds"),
        ({"default_interval_seconds": 10**30},
         "default_interval_seconds must be an integer at least min_interval_seconds"),
        ({"poll_deadline_seconds": 0.0}, "poll_deadline_seconds must be above 0 and at most 3600"),
        ({"poll_deadline_seconds": float("nan")}, "poll_deadline_seconds must be above 0 and at most 3600"),
        ({"refresh_floor_seconds": -1}, "refresh_floor_seconds must be an integer from 0 to 86400"),
        ({"id": ""}, "id must be a non-empty name without spaces or ':'"),
        ({"id": "a:b"}, "id must be a non-empty name without spaces or ':'"),
    ],
)
def test_provider_spec_is_validated_when_built(kwargs: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {"id": "gamma", "display_name": "Gamma", "strategies": (Api(),), **kwargs}
    with pytest.raises(SpecError) as info:
        ProviderSpec(**fields)
    assert str(info.value) == f"provider spec {fields['id']!r} is invalid: {message}"
    assert isinstance(info.value, ValueError)


def test_several_spec_problems_are_reported_together() -> None:
    with pytest.raises(SpecError) as info:
        ProviderSpec(id="gamma", display_name="Gamma", strategies=(Api(), Api()), min_interval_seconds=-5)
    assert str(info.value) == (
        "provider spec 'gamma' is invalid: duplicate strategy ids: api; "
        "min_interval_seconds must be a positive integer"
    )


def test_the_built_in_specs_are_valid() -> None:
    from codexbard.providers.registry import PROVIDER_MODULES

    registry = default_registry()
    assert registry.broken == {}
    assert len(registry.ids()) == len(PROVIDER_MODULES) == len(set(registry.ids()))


# -- a provider whose module cannot be loaded is disabled, the rest keep working --------------------

GOOD_MODULE = '''
from codexbard.models import UsageSnapshot
from codexbard.providers.base import Availability, ProviderSpec, Strategy


class Api(Strategy):
    id = "api"
    kind = "api"
    source_label = "api"

    async def available(self, ctx):
        return Availability.yes()

    async def fetch(self, ctx):
        return UsageSnapshot()


PROVIDER = ProviderSpec(id="{id}", display_name="{id}", strategies=(Api(),))
'''


@pytest.fixture
def provider_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    package = tmp_path / "cbfakeproviders"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "good.py").write_text(GOOD_MODULE.replace("{id}", "good"))
    (package / "broken.py").write_text("import codexbard\nraise RuntimeError('half-installed dependency')\n")
    (package / "syntax.py").write_text("def (:\n")
    (package / "invalid.py").write_text(GOOD_MODULE.replace("strategies=(Api(),)", "strategies=(Api(), Api())")
                                        .replace("{id}", "invalid"))
    (package / "nospec.py").write_text("VALUE = 1\n")
    (package / "again.py").write_text(GOOD_MODULE.replace("{id}", "good"))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield package
    for name in [m for m in sys.modules if m.startswith("cbfakeproviders")]:
        del sys.modules[name]


def test_a_broken_provider_module_is_logged_and_disabled(provider_modules: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    names = [f"cbfakeproviders.{n}" for n in ("broken", "good", "syntax", "invalid", "nospec", "again", "missing")]
    with caplog.at_level(logging.ERROR, logger="codexbard.providers.registry"):
        registry = load_registry(names)
    assert registry.ids() == ["good"]
    assert registry.broken == {
        "cbfakeproviders.broken": "RuntimeError: half-installed dependency",
        "cbfakeproviders.syntax": "SyntaxError: invalid syntax (syntax.py, line 1)",
        "cbfakeproviders.invalid": "SpecError: provider spec 'invalid' is invalid: duplicate strategy ids: api",
        "cbfakeproviders.nospec": "TypeError: cbfakeproviders.nospec.PROVIDER is not a ProviderSpec",
        "cbfakeproviders.again": "ValueError: duplicate provider id 'good'",
        "cbfakeproviders.missing": "ModuleNotFoundError: No module named 'cbfakeproviders.missing'",
    }
    assert caplog.records[0].getMessage() == (
        "provider module cbfakeproviders.broken could not be loaded and is disabled "
        "(RuntimeError: half-installed dependency)"
    )
    assert len(caplog.records) == 6


async def test_the_daemon_runs_without_the_broken_provider(provider_modules: Path, tmp_path: Path) -> None:
    from codexbard.daemon import Daemon
    from tests.fakes import make_runtime

    registry = load_registry(["cbfakeproviders.broken", "cbfakeproviders.good"])
    runtime = make_runtime(tmp_path, list(registry))
    daemon = await Daemon.open(runtime, use_store=False)
    daemon.start()
    try:
        assert list(daemon.state.accounts) == ["good"]
        await daemon.scheduler.poll("good")
        good = daemon.state.require("good")
        assert good.error is None and good.snapshot == UsageSnapshot()
    finally:
        await daemon.stop(timeout=1)
