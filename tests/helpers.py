"""Shared test helpers: fetch contexts wired to a fake upstream (httpx.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from codexbard.host.clock import FixedClock
from codexbard.host.credentials import CredentialResolver, MemorySecretStore
from codexbard.host.files import HomeFiles
from codexbard.host.http import HttpClient
from codexbard.host.process import ProcessRunner
from codexbard.providers.base import FetchContext

NOW = datetime(2026, 11, 25, 18, 0, 0, tzinfo=UTC)

Handler = Callable[[httpx.Request], httpx.Response]


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> httpx.Response:
    """A JSON response for a MockTransport handler."""
    return httpx.Response(status, content=json.dumps(data).encode(), headers={
        "content-type": "application/json", **(headers or {})})


def fixture_bytes(test_file: str, name: str) -> bytes:
    """Read tests/.../fixtures/<name> next to the calling test module."""
    return (Path(test_file).parent / "fixtures" / name).read_bytes()


def make_context(
    provider_id: str,
    handler: Handler,
    *,
    env: Mapping[str, str] | None = None,
    options: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
    home: Path | None = None,
    account: str | None = None,
    explicitly_enabled: bool = False,
    overrides: Mapping[str, str] | None = None,
    clock: FixedClock | None = None,
) -> FetchContext:
    """Build a FetchContext whose HTTP client answers from `handler` (no sockets)."""
    environment = dict(env or {})
    if home is not None:
        environment.setdefault("HOME", str(home))
    clock = clock or FixedClock(NOW)
    http = HttpClient(overrides=overrides or {}, clock=clock, transport=httpx.MockTransport(handler))
    files = HomeFiles(environment)
    opts = dict(options or {})
    return FetchContext(
        provider_id=provider_id,
        account=account,
        options=opts,
        explicitly_enabled=explicitly_enabled,
        http=http,
        credentials=CredentialResolver(
            provider=provider_id,
            account=account,
            env=environment,
            store=MemorySecretStore(secrets),
            files=files,
            config_values=opts,
        ),
        files=files,
        env=environment,
        process=ProcessRunner(environment),
        clock=clock,
    )
