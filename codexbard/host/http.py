"""The one HTTP client every provider uses.

It owns the timeouts, the user agent, `upstream_overrides` URL rewriting, a response size cap, and the
translation of transport failures and HTTP statuses into the typed errors of `codexbard.errors`.
Nothing here logs a header, a body or a query string.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from codexbard import __version__
from codexbard.errors import (
    AuthRequired,
    NotConfigured,
    ParseError,
    RateLimited,
    Timeout,
    Unavailable,
)
from codexbard.host.clock import Clock, parse_retry_after

log = logging.getLogger(__name__)
# httpx logs every request's full URL, query string included, at INFO; queries can carry API keys.
logging.getLogger("httpx").setLevel(logging.WARNING)

DEFAULT_TIMEOUT: Final = 30.0
MAX_BODY_BYTES: Final = 5 * 1024 * 1024
USER_AGENT: Final = f"codexbard/{__version__}"
_BOUNDARY: Final = ("/", "?", "#")


def normalize_overrides(overrides: Mapping[str, str]) -> dict[str, str]:
    """Strip trailing slashes from override keys and values so prefixes compare cleanly."""
    return {key.rstrip("/"): value.rstrip("/") for key, value in overrides.items() if key.strip()}


def rewrite_url(url: str, overrides: Mapping[str, str]) -> str:
    """Rewrite `url` with the longest override key that matches it at a boundary."""
    best: str | None = None
    for key in overrides:
        at_boundary = url.startswith(key) and (len(url) == len(key) or url[len(key)] in _BOUNDARY)
        if at_boundary and (best is None or len(key) > len(best)):
            best = key
    if best is None:
        return url
    return overrides[best] + url[len(best) :]


def _size(limit: int) -> str:
    mib = 1024 * 1024
    return f"{limit // mib} MiB" if limit >= mib else f"{limit} bytes"


def describe_url(url: str) -> str:
    """Return scheme://host/path of a URL (no query, no userinfo) for logs and messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # an out-of-range port: this runs while reporting an invalid URL
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


@dataclass(frozen=True)
class HttpResponse:
    """A fully read response."""

    status: int
    headers: httpx.Headers
    body: bytes
    url: str
    service: str

    def text(self) -> str:
        """Decode the body as UTF-8, replacing bad bytes."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """Decode the body as JSON, raising ParseError for HTML, truncated or invalid bodies."""
        if not self.body.strip():
            raise ParseError(f"{self.service} answered with an empty body")
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            head = self.body.lstrip()[:15].lower()
            if head.startswith((b"<!doctype", b"<html", b"<")):
                raise ParseError(f"{self.service} answered with HTML instead of JSON") from None
            raise ParseError(f"{self.service} answered with invalid JSON") from None

    def json_object(self) -> dict[str, Any]:
        """Decode the body as a JSON object, raising ParseError for any other shape."""
        data = self.json()
        if not isinstance(data, dict):
            raise ParseError(f"{self.service} answered with JSON that is not an object")
        return data

    def retry_after(self, clock: Clock) -> float | None:
        """Return the Retry-After header in seconds, if any."""
        return parse_retry_after(self.headers.get("retry-after"), clock.now())


def raise_for_status(response: HttpResponse, clock: Clock) -> None:
    """Translate a non-2xx status into a typed error (401/403 auth, 429 rate limit, 5xx unavailable)."""
    status = response.status
    if 200 <= status < 300:
        return
    name = response.service
    if status in (401, 403):
        raise AuthRequired(f"{name} rejected the credentials (HTTP {status})")
    if status == 429:
        raise RateLimited(f"{name} is rate limiting requests (HTTP 429)", retry_after=response.retry_after(clock))
    if status >= 500:
        raise Unavailable(f"{name} is unavailable (HTTP {status})")
    raise Unavailable(f"{name} answered HTTP {status}")


class HttpClient:
    """A shared async HTTP client with codexbard's policies; one per process."""

    def __init__(
        self,
        *,
        overrides: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        user_agent: str = USER_AGENT,
        default_timeout: float = DEFAULT_TIMEOUT,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.overrides = normalize_overrides(overrides or {})
        self.clock = clock or Clock()
        self.default_timeout = default_timeout
        self.max_body_bytes = max_body_bytes
        self._client = httpx.AsyncClient(
            transport=transport,
            headers={"User-Agent": user_agent},
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        )

    def rewrite(self, url: str) -> str:
        """Apply `upstream_overrides` to a canonical URL."""
        return rewrite_url(url, self.overrides)

    async def request(
        self,
        method: str,
        url: str,
        *,
        service: str,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        timeout: float | None = None,
        check_status: bool = True,
    ) -> HttpResponse:
        """Send a request and read the whole (capped) body; raise typed errors on failure."""
        target = self.rewrite(url)
        limit = timeout if timeout is not None else self.default_timeout
        started = time.monotonic()
        try:
            async with self._client.stream(
                method,
                target,
                headers=dict(headers or {}),
                params=dict(params) if params else None,
                json=json_body,
                timeout=httpx.Timeout(limit),
            ) as raw:
                chunks: list[bytes] = []
                size = 0
                async for chunk in raw.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_body_bytes:
                        raise ParseError(f"{service} answered with more than {_size(self.max_body_bytes)}")
                    chunks.append(chunk)
                response = HttpResponse(
                    status=raw.status_code,
                    headers=raw.headers,
                    body=b"".join(chunks),
                    url=target,
                    service=service,
                )
        except httpx.TimeoutException:
            raise Timeout(f"{service} did not answer within {limit:g} s") from None
        except httpx.ConnectError:
            raise Unavailable(f"cannot connect to {service} ({describe_url(target)})") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL):
            raise NotConfigured(f"invalid URL for {service}: {describe_url(target)}") from None
        except httpx.RemoteProtocolError:
            raise Unavailable(f"{service} closed the connection before answering") from None
        except httpx.TransportError as exc:
            raise Unavailable(f"network error talking to {service}: {type(exc).__name__}") from None
        log.debug(
            "%s %s -> %d in %.0f ms",
            method,
            describe_url(target),
            response.status,
            (time.monotonic() - started) * 1000,
        )
        if check_status:
            raise_for_status(response, self.clock)
        return response

    async def get(self, url: str, **kwargs: Any) -> HttpResponse:
        """Send a GET request (see `request`)."""
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> HttpResponse:
        """Send a POST request (see `request`)."""
        return await self.request("POST", url, **kwargs)

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._client.aclose()
