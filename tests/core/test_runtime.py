"""Tests for codexbard.runtime: enabling by config or detection, and the wiring of fetch contexts."""

from __future__ import annotations

import os
import tomllib
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

import pytest

from codexbard.config import Paths, Settings
from codexbard.host.clock import FixedClock
from codexbard.host.credentials import FileSecretStore, MemorySecretStore
from codexbard.models import RateWindow, UsageSnapshot
from codexbard.providers.base import Availability, ConfigKey, EnvVar, FetchContext, ProviderSpec, Strategy
from codexbard.providers.registry import PollTarget, Registry
from codexbard.runtime import Detection, Runtime
from tests.helpers import NOW


class KeyStrategy(Strategy):
    """Available when an API key is found; its snapshot says which key and options it saw."""

    id = "api"
    kind = "api"
    source_label = "api"

    async def available(self, ctx: FetchContext) -> Availability:
        lookup = ctx.credentials.secret("api_key", env_vars=("GAMMA_API_KEY",))
        if lookup.secret is None:
            return Availability.no(f"no API key (looked in {lookup.where()})")
        return Availability.yes(f"key from {lookup.secret.origin}")

    async def fetch(self, ctx: FetchContext) -> UsageSnapshot:
        lookup = ctx.credentials.secret("api_key", env_vars=("GAMMA_API_KEY",))
        assert lookup.secret is not None
        return UsageSnapshot(
            primary=RateWindow(used_percent=10, reset_description=lookup.secret.reveal()),
            version=str(ctx.option("region")),
        )


class CliStrategy(Strategy):
    id = "cli"
    kind = "cli"
    source_label = "cli"

    async def available(self, ctx: FetchContext) -> Availability:
        return Availability.no("`gamma` is not on PATH", kind="cli_missing")

    async def fetch(self, ctx: FetchContext) -> UsageSnapshot:
        raise AssertionError("never available")


class BrokenStrategy(CliStrategy):
    id = "broken"

    async def available(self, ctx: FetchContext) -> Availability:
        raise RuntimeError("bug")


GAMMA = ProviderSpec(
    id="gamma",
    display_name="Gamma",
    strategies=(KeyStrategy(), CliStrategy(), BrokenStrategy()),
    config_keys=(ConfigKey("region", choices=("global", "cn"), default="global"),),
    account_keys=(ConfigKey("home"),),
    env=(EnvVar("GAMMA_API_KEY", "Gamma API key", secret=True),),
)

Make = Callable[..., Runtime]


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    config_dir = tmp_path / "cfg"
    return Paths(config_file=config_dir / "config.toml", config_dir=config_dir, data_dir=tmp_path / "data")


@pytest.fixture
async def make(paths: Paths) -> AsyncIterator[Make]:
    made: list[Runtime] = []

    def build(
        text: str = "", env: Mapping[str, str] | None = None, secrets: Mapping[str, str] | None = None
    ) -> Runtime:
        runtime = Runtime(
            Settings(**tomllib.loads(text)),
            paths,
            {"HOME": os.environ["HOME"], **(env or {})},
            registry=Registry((GAMMA,)),
            secret_store=MemorySecretStore(secrets),
            clock=FixedClock(NOW),
        )
        made.append(runtime)
        return runtime

    yield build
    for runtime in made:
        await runtime.aclose()


LOOKED = "env GAMMA_API_KEY, memory entry gamma:api_key, config providers.gamma.api_key"


def only(runtime: Runtime) -> PollTarget:
    (target,) = runtime.targets_for("gamma")
    return target


def test_not_enabled_without_credentials(make: Make) -> None:
    runtime = make()
    detection = runtime.detect_blocking(only(runtime))
    assert detection == Detection(
        enabled=False,
        explicit=False,
        strategies=[
            (
                "api",
                Availability.no(f"no API key (looked in {LOOKED})"),
            ),
            ("cli", Availability.no("`gamma` is not on PATH", kind="cli_missing")),
            ("broken", Availability.no("availability check failed: RuntimeError")),
        ],
    )
    assert detection.reason() == (
        f"api: no API key (looked in {LOOKED}); "
        "cli: `gamma` is not on PATH; broken: availability check failed: RuntimeError"
    )


@pytest.mark.parametrize(
    ("env", "secrets", "text", "origin"),
    [
        ({"GAMMA_API_KEY": "from-env"}, {}, "", "env GAMMA_API_KEY"),
        ({}, {"gamma:api_key": "from-store"}, "", "memory"),
        ({}, {}, "[providers.gamma]\napi_key = 'from-config'\n", "config providers.gamma.api_key"),
    ],
)
def test_enabled_by_detection(
    make: Make, env: dict[str, str], secrets: dict[str, str], text: str, origin: str
) -> None:
    runtime = make(text, env, secrets)
    detection = runtime.detect_blocking(only(runtime))
    assert detection.enabled is True
    assert detection.explicit is False
    assert detection.strategies[0] == ("api", Availability.yes(f"key from {origin}"))
    assert detection.reason() == "credentials detected"


def test_enabled_by_config_without_credentials(make: Make) -> None:
    runtime = make("[providers.gamma]\nenabled = true\n")
    detection = runtime.detect_blocking(only(runtime))
    assert (detection.enabled, detection.explicit) == (True, True)
    assert detection.reason() == "enabled in config"
    assert runtime.context(only(runtime)).explicitly_enabled is True


def test_disabled_by_config_despite_credentials(make: Make) -> None:
    runtime = make("[providers.gamma]\nenabled = false\n", {"GAMMA_API_KEY": "k"})
    detection = runtime.detect_blocking(only(runtime))
    assert (detection.enabled, detection.explicit) == (False, True)
    assert detection.strategies[0][1].ok is True
    assert detection.reason() == "disabled in config"
    assert runtime.context(only(runtime)).explicitly_enabled is False


def test_reason_without_any_strategy_reason() -> None:
    assert Detection(False, False, [("a", Availability.no(""))]).reason() == "no credentials found"


def test_context_wiring(make: Make) -> None:
    runtime = make(
        "[providers.gamma]\nregion = 'cn'\n"
        "[upstream_overrides]\n'https://api.gamma.example' = 'http://127.0.0.1:9/g'\n",
        {"GAMMA_API_KEY": "k", "XDG_CONFIG_HOME": "/xdg", "OPENROUTER_API_KEY": "other", "DELTA_TOKEN": "d"},
    )
    target = only(runtime)
    ctx = runtime.context(target)
    assert ctx.provider_id == "gamma"
    assert ctx.account is None
    assert ctx.explicitly_enabled is False
    assert ctx.option("region") == "cn"
    assert ctx.option("missing", "fallback") == "fallback"
    assert ctx.options is target.options
    assert ctx.http is runtime.http
    assert ctx.clock is runtime.clock
    assert ctx.clock.now() == NOW
    # Only what the spec declares (plus HOME/XDG_*): another provider's key never reaches this context.
    assert ctx.env == {"HOME": os.environ["HOME"], "GAMMA_API_KEY": "k", "XDG_CONFIG_HOME": "/xdg"}
    assert ctx.files.config_home == Path("/xdg")
    assert ctx.process.env == ctx.env
    assert ctx.deadline is None
    assert ctx.http.rewrite("https://api.gamma.example/v1/usage") == "http://127.0.0.1:9/g/v1/usage"
    lookup = ctx.credentials.secret("api_key", env_vars=("GAMMA_API_KEY",))
    assert lookup.secret is not None and lookup.secret.reveal() == "k"


def test_account_contexts(make: Make) -> None:
    runtime = make(
        """
[providers.gamma]
api_key = "provider-config-key"
[[providers.gamma.accounts]]
label = "work"
home = "~/.gamma-work"
[[providers.gamma.accounts]]
label = "home"
""",
        {"GAMMA_API_KEY": "default-env-key"},
        {"gamma@work:api_key": "work-store-key", "gamma:api_key": "default-store-key"},
    )
    work, home = runtime.targets_for("gamma")
    assert (work.key, home.key) == ("gamma:work", "gamma:home")
    work_ctx = runtime.context(work)
    assert work_ctx.account == "work"
    assert work_ctx.option("home") == "~/.gamma-work"
    found = work_ctx.credentials.secret("api_key", env_vars=("GAMMA_API_KEY",))
    assert found.secret is not None
    assert found.secret.reveal() == "work-store-key"
    # An account never takes the provider's env var; it falls to its own config (which inherits the table's).
    home_found = runtime.context(home).credentials.secret("api_key", env_vars=("GAMMA_API_KEY",))
    assert home_found.secret is not None
    assert home_found.secret.reveal() == "provider-config-key"
    assert home_found.secret.origin == "config providers.gamma.accounts[home].api_key"
    assert runtime.targets_for("nope") == []


async def test_fetch_runs_the_pipeline(make: Make) -> None:
    runtime = make("[providers.gamma]\nregion = 'cn'\n", secrets={"gamma:api_key": "sk"})
    outcome = await runtime.fetch(only(runtime))
    assert outcome.ok
    assert outcome.source == "api"
    expected = UsageSnapshot(primary=RateWindow(used_percent=10, reset_description="sk"), version="cn")
    assert outcome.snapshot == expected
    # The cli mode runs both cli strategies: a missing program, then a broken availability check.
    outcome = await runtime.fetch(only(runtime), mode="cli")
    assert outcome.error is not None
    assert outcome.error.kind == "internal"
    assert outcome.error.message == "unexpected error in gamma broken: RuntimeError"
    attempts = [(a.strategy, a.error_kind) for a in outcome.attempts]
    assert attempts == [("cli", "cli_missing"), ("broken", "internal")]


async def test_load_and_default_secret_store(clean_env: Path) -> None:
    config = clean_env / "conf" / "config.toml"
    config.parent.mkdir()
    config.write_text("[providers.gamma]\nenabled = true\n")
    runtime = Runtime.load(dict(os.environ), config, registry=Registry((GAMMA,)))
    try:
        assert runtime.paths.config_file == config
        assert isinstance(runtime.secret_store, FileSecretStore)
        assert runtime.secret_store.path == clean_env / "conf" / "secrets.toml"
        assert runtime.secret_store_note == (
            "keyring backend keyring.backends.null.Keyring is not a secure store; "
            f"using {clean_env / 'conf' / 'secrets.toml'}"
        )
        assert only(runtime).enabled_setting is True
    finally:
        await runtime.aclose()


async def test_memory_store_note(make: Make) -> None:
    runtime = make()
    assert runtime.secret_store_note == "memory"
