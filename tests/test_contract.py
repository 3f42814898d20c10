"""Contract checks over the whole project: every provider has docs and tests; README and CI agree.

The per-provider checks walk the registry and read each spec's declarations (env vars, settings, API
keys), so a new provider is checked without being named here.
"""

from __future__ import annotations

import asyncio
import importlib
import re
import sys
import tomllib
from pathlib import Path

import pytest

from codexbard.errors import NotConfigured
from codexbard.providers.base import ApiKeyStrategy, ProviderSpec
from codexbard.providers.registry import default_registry
from codexbard.scheduler.backoff import failure_delay
from tests.helpers import make_context
from tests.providers import kit

ROOT = Path(__file__).resolve().parents[1]
PROVIDERS = list(default_registry())
API_KEY_STRATEGIES = [
    pytest.param(spec, strategy, id=f"{spec.id}-{strategy.id}")
    for spec in PROVIDERS for strategy in spec.strategies if isinstance(strategy, ApiKeyStrategy)
]
SECRET = "contract-0123456789-SECRETVALUE"


@pytest.mark.parametrize("spec", PROVIDERS, ids=lambda s: s.id)
def test_provider_has_docs_and_tests(spec) -> None:  # type: ignore[no-untyped-def]
    doc = ROOT / "docs" / "providers" / f"{spec.id}.md"
    assert doc.is_file(), f"docs/providers/{spec.id}.md is missing"
    text = doc.read_text()
    assert len(text) > 500
    tests = ROOT / "tests" / "providers" / spec.id
    assert (tests / "test_parse.py").is_file()
    assert (tests / "test_provider.py").is_file()
    for strategy in spec.strategies:
        module = type(strategy).__module__.rsplit(".", 1)[-1]
        assert (tests / f"test_{module}.py").is_file(), f"no tests/providers/{spec.id}/test_{module}.py"
    assert list((tests / "fixtures").glob("*")), "a provider is tested against fixture payloads"


def _doc(spec: ProviderSpec) -> str:
    return (ROOT / "docs" / "providers" / f"{spec.id}.md").read_text()


@pytest.mark.parametrize("spec", PROVIDERS, ids=lambda s: s.id)
def test_doc_names_every_declared_env_var_and_setting(spec: ProviderSpec) -> None:
    text = _doc(spec)
    missing = [v.name for v in spec.env_vars if not re.search(rf"\b{re.escape(v.name)}\b", text)]
    missing += [k.name for k in (*spec.setting_keys(), *spec.account_setting_keys())
                if not re.search(rf"\b{re.escape(k.name)}\b", text)]
    assert missing == [], f"docs/providers/{spec.id}.md does not name {missing}"


@pytest.mark.parametrize("spec", PROVIDERS, ids=lambda s: s.id)
def test_declarations_are_well_formed(spec: ProviderSpec) -> None:
    names = [v.name for v in spec.env_vars]
    assert len(names) == len(set(names))
    for var in spec.env_vars:
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", var.name) and var.purpose
        assert not var.name.startswith("CODEXBARD_"), "codexbard's own variables come from Settings"
    for key in spec.api_keys():
        for name in (*key.env_vars, *key.opt_in_env_vars):
            assert next(v for v in spec.env_vars if v.name == name).secret, f"{name} holds a key: secret=True"
        assert key.field in spec.secret_fields()
    for model in (spec.settings_model(), spec.account_settings_model()):
        if model is None:
            continue
        assert model.model_config.get("extra") == "forbid"
        required = [n for n, f in model.model_fields.items() if f.is_required()]
        assert required == [], "every setting needs a default"


@pytest.mark.parametrize(("spec", "strategy"), API_KEY_STRATEGIES)
async def test_api_key_strategy_without_a_key_is_not_configured_and_sends_nothing(
    spec: ProviderSpec, strategy: ApiKeyStrategy
) -> None:
    upstream = kit.FakeUpstream()
    ctx = make_context(spec.id, upstream)
    availability = await strategy.available(ctx)
    key = strategy.api_key(ctx)
    assert (availability.ok, availability.kind) == (False, "not_configured")
    assert availability.reason.startswith(f"{key.name} API key not found (looked in ")
    assert availability.reason.endswith(key.hint(spec.id))
    with pytest.raises(NotConfigured) as caught:
        await strategy.fetch(make_context(spec.id, upstream))
    assert caught.value.message == availability.reason
    assert upstream.requests == []


@pytest.mark.parametrize(("spec", "strategy"), API_KEY_STRATEGIES)
async def test_api_key_from_each_declared_env_var_is_found_and_never_shown(
    spec: ProviderSpec, strategy: ApiKeyStrategy
) -> None:
    key = strategy.api_key(make_context(spec.id, kit.FakeUpstream()))
    for name in key.env_vars:
        ctx = make_context(spec.id, kit.FakeUpstream(), env={name: SECRET})
        availability = await strategy.available(ctx)
        assert (availability.ok, availability.reason) == (True, f"API key from env {name}")


@pytest.mark.parametrize(("spec", "strategy"), API_KEY_STRATEGIES)
def test_api_key_strategy_has_an_error_matrix(spec: ProviderSpec, strategy: ApiKeyStrategy) -> None:
    module_name = type(strategy).__module__.rsplit(".", 1)[-1]
    module = importlib.import_module(f"tests.providers.{spec.id}.test_{module_name}")
    matrices = [v for v in vars(module).values() if isinstance(v, kit.ErrorMatrix)]
    assert [m.provider_id for m in matrices if m.strategy is type(strategy)] == [spec.id], (
        f"tests/providers/{spec.id}/test_{module_name}.py declares no kit.ErrorMatrix for {type(strategy).__name__}"
    )
    assert any(name.startswith("test_") and "matrix" in name for name in vars(module))


@pytest.mark.parametrize("spec", PROVIDERS, ids=lambda s: s.id)
def test_context_env_shows_only_declared_and_host_variables(spec: ProviderSpec) -> None:
    everyone = {v.name: "x" for other in PROVIDERS for v in other.env_vars}
    env = {**everyone, "HOME": "/h", "PATH": "/bin", "XDG_CONFIG_HOME": "/x", "LC_ALL": "C", "UNDECLARED_TOKEN": "t"}
    assert set(spec.visible_env(env)) == spec.env_names() | {"HOME", "PATH", "XDG_CONFIG_HOME", "LC_ALL"}


def test_conftest_scrubs_every_declared_variable() -> None:
    from tests.conftest import provider_env_names

    assert provider_env_names() == frozenset(v.name for spec in PROVIDERS for v in spec.env_vars)


def _readme_provider_rows() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    table = text.split("| provider | credentials |", 1)[1].split("\n\n", 1)[0]
    return dict(re.findall(r"^\| `(\w+)` \| (.+) \|$", table, flags=re.M))


def test_readme_provider_table_names_only_registered_providers_and_declared_variables() -> None:
    rows = _readme_provider_rows()
    assert rows, "the README's provider table is missing"
    for provider_id, credentials in rows.items():
        assert provider_id in default_registry(), f"README lists unknown provider {provider_id}"
        declared = default_registry().get(provider_id).env_names()
        named = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", credentials))
        assert named <= declared, f"README names undeclared variables for {provider_id}: {named - declared}"


@pytest.mark.parametrize("spec", PROVIDERS, ids=lambda s: s.id)
def test_descriptor_is_complete(spec) -> None:  # type: ignore[no-untyped-def]
    assert re.fullmatch(r"[a-z0-9]+", spec.id)
    assert spec.display_name and spec.enable_hint and spec.dashboard_url
    assert spec.strategies and "auto" in spec.modes()
    for strategy in spec.strategies:
        assert strategy.source_label in {"oauth", "api", "web", "cli", "local", "pat", "openai-web", "codex-cli",
                                         "claude", "oauth-api", "app", "ide", "offline"}


def test_registry_order_matches_the_design_list() -> None:
    design_order = ["codex", "claude", "gemini", "antigravity", "cursor", "opencode", "factory", "zai", "minimax",
                    "kimi", "kimik2", "copilot", "kiro", "vertexai", "jetbrains", "amp", "warp", "ollama",
                    "openrouter", "augment"]
    ids = [s.id for s in PROVIDERS]
    assert ids == [i for i in design_order if i in ids]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(.+?)\n```", text, flags=re.S)[:2]


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second() -> None:
    text = (ROOT / "README.md").read_text()
    first_block = text.index("```sh")
    assert text[:first_block].strip() == "# codexbard"
    install, test = _readme_commands()
    assert install.startswith("python3 -m venv .venv && .venv/bin/pip install .")
    assert install.endswith("codexbard serve")
    ci = (ROOT / ".ci" / "run").read_text()
    assert test in ci.splitlines()
    assert '"$status" -eq 5' in ci  # pytest's "no tests collected" fails CI


def test_runtime_dependencies_are_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=\[ ]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}
    assert {"fastapi", "uvicorn", "httpx", "apscheduler", "aiosqlite", "keyring", "browser-cookie3",
            "pydantic", "tzdata", "sniffio"} <= names
    assert "pydantic-settings" not in names  # codexbard.config reads CODEXBARD_* variables itself
    assert project["requires-python"] == ">=3.11"
    assert project["scripts"]["codexbard"] == "codexbard.cli:main"


def test_httpcore_finds_sniffio_instead_of_searching_for_it_on_every_request() -> None:
    import httpcore._synchronization as sync

    async def library() -> str:
        return sync.current_async_library()

    assert asyncio.run(library()) == "asyncio"  # the first call may import it
    misses: list[str] = []

    class Recorder:
        def find_spec(self, name: str, path: object = None, target: object = None) -> None:
            misses.append(name)

    sys.meta_path.insert(0, Recorder())  # type: ignore[arg-type]
    try:
        assert asyncio.run(library()) == "asyncio"
    finally:
        sys.meta_path.pop(0)
    assert misses == []  # an imported module is found in sys.modules, never searched for


def test_backoff_never_exceeds_an_hour_for_transient_errors() -> None:
    assert max(failure_delay("unavailable", 600, n) for n in range(40)) == 3600
