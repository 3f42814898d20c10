"""Contract checks over the whole project: every provider has docs and tests; README and CI agree."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from codexbard.providers.registry import default_registry
from codexbard.scheduler.backoff import failure_delay

ROOT = Path(__file__).resolve().parents[1]
PROVIDERS = list(default_registry())


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
            "pydantic-settings", "tzdata"} <= names
    assert project["requires-python"] == ">=3.11"
    assert project["scripts"]["codexbard"] == "codexbard.cli:main"


def test_backoff_never_exceeds_an_hour_for_transient_errors() -> None:
    assert max(failure_delay("unavailable", 600, n) for n in range(40)) == 3600
