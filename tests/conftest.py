"""Global test guards: no network but loopback, a clean environment, HOME in tmp_path, no real keyring."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pytest_socket import socket_allow_hosts

from codexbard.providers.registry import default_registry

# codexbard's own variables, the XDG dirs and proxies a developer may have exported.
_PREFIXES = ("CODEXBARD_", "XDG_")
_GENERIC = frozenset({"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"})


def provider_env_names() -> frozenset[str]:
    """Every env var a registered provider declares (`ProviderSpec.env_vars`): none may leak into a test."""
    return frozenset(name for spec in default_registry() for name in spec.env_names())


_PROVIDER_ENV = provider_env_names()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Allow sockets to loopback only (fake upstreams and the daemon under test)."""
    socket_allow_hosts(["127.0.0.1", "::1", "localhost"], allow_unix_socket=True)


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Remove provider env vars and point HOME and XDG dirs into the test's directory."""
    for name in list(os.environ):
        if name.startswith(_PREFIXES) or name.upper() in _GENERIC or name in _PROVIDER_ENV:
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    return home
