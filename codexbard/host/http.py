"""The one HTTP client every provider uses.

It owns the chores every upstream request shares: the timeouts (each request's timeout is clipped to
the poll deadline the runner set with `poll_deadline`), the user agent, Bearer auth (`bearer=`),
`upstream_overrides` URL rewriting (userinfo in an override is never sent), a response size cap on
the decompressed body applied while streaming, and the translation of transport failures and HTTP
statuses into the typed errors of `codexbard.errors` (with a body excerpt scrubbed, then cut).
Nothing here logs a header, a body or a query string.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any, Final, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from codexbard import __version__
from codexbard.errors import (
    AuthRequired,
    NotConfigured,
    ParseError,
    ProviderError,
    RateLimited,
    Timeout,
    Unavailable,
)
from codexbard.host.clock import Clock, parse_retry_after
from codexbard.host.credentials import Secret
from codexbard.host.redact import excerpt as scrubbed_excerpt

log = logging.getLogger(__name__)
# httpx logs every request's full URL, query string included, at INFO; queries can carry API keys.
logging.getLogger("httpx").setLevel(logging.WARNING)

DEFAULT_TIMEOUT: Final = 30.0
MAX_BODY_BYTES: Final = 5 * 1024 * 1024
USER_AGENT: Final = f"codexbard/{__version__}"
MIN_TIMEOUT: Final = 0.1
_BOUNDARY: Final = ("/", "?", "#")
# We decode these ourselves (bounded); advertising only them keeps br/zstd bombs out too.
ACCEPT_ENCODING: Final = "gzip, deflate"

# The poll deadline (a time.monotonic() value) of the fetch running in this task, set by the runner.
_poll_deadline: ContextVar[float | None] = ContextVar("codexbard_poll_deadline", default=None)


def set_poll_deadline(deadline: float | None) -> Token[float | None]:
    """Clip the timeout of every request made from now on in this task (and its children) to `deadline`."""
    return _poll_deadline.set(deadline)


def reset_poll_deadline(token: Token[float | None]) -> None:
    """Undo `set_poll_deadline`."""
    _poll_deadline.reset(token)


@contextlib.contextmanager
def poll_deadline(deadline: float | None) -> Iterator[None]:
    """Clip the timeout of every request made inside the block (and its child tasks) to `deadline`."""
    token = set_poll_deadline(deadline)
    try:
        yield
    finally:
        reset_poll_deadline(token)


def clip_timeout(timeout: float) -> float:
    """`timeout`, at most the time left before the current poll deadline (never below 0.1 s)."""
    deadline = _poll_deadline.get()
    if deadline is None:
        return timeout
    return max(MIN_TIMEOUT, min(timeout, deadline - time.monotonic()))


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


def split_userinfo(url: str) -> tuple[str, tuple[str, ...]]:
    """Drop `user:password@` from a URL; return the URL and the secrets it carried (for scrubbing).

    httpx would turn userinfo into a Basic `Authorization` header that replaces the provider's own
    (Bearer) one, and send a proxy password to the upstream: an override URL's userinfo is never sent.
    """
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, ()
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    found = {userinfo, unquote(userinfo), password, unquote(password)}
    if not password:
        found |= {user, unquote(user)}
    secrets = tuple(sorted(s for s in found if s))
    return urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment)), secrets


# Whitespace or control characters anywhere in an endpoint override.
_BAD_CHARS: Final = re.compile(r"[\s\x00-\x1f\x7f]")


def validate_endpoint(name: str, raw: str, *, base: bool = False, hint: str = "") -> str:
    """Normalize an endpoint override (env var `name`) to an https URL, or raise NotConfigured.

    A bare host name gets `https://`. Refused: other schemes, whitespace or control characters, a
    user name or password, percent-encoded or backslash characters in the host, a bad port, no host,
    a `#fragment`, and for a `base` URL (one that paths are appended to) a query; a base URL loses its
    trailing slashes. Messages name the variable, never its value (it may carry credentials).
    """

    def refuse(reason: str) -> NotConfigured:
        return NotConfigured(f"{name} {reason}" + (f" {hint}" if hint else ""))

    value = raw.strip()
    if _BAD_CHARS.search(value):
        raise refuse("contains whitespace or control characters; fix or unset it")
    if "://" not in value:
        value = "https://" + value
    parts = urlsplit(value)
    if parts.scheme.lower() != "https":
        raise refuse("must be an https:// URL or a bare host name; fix or unset it")
    netloc = parts.netloc
    if "@" in netloc:
        raise refuse("must not carry a user name or password; remove it")
    # Encoded delimiters (%2f, %40, %3a, ...) or a backslash in the host can smuggle another host past
    # the checks; no real host name contains either.
    if "%" in netloc or "\\" in netloc:
        raise refuse("has percent-encoded or backslash characters in its host; fix it")
    try:
        host = (parts.hostname or "").rstrip(".")
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        raise refuse("has an invalid port; fix or unset it") from None
    if not host:
        raise refuse("has no host name; fix or unset it")
    if parts.fragment or value.endswith("#"):
        raise refuse("must not have a #fragment; fix or unset it")
    if base and (parts.query or "?" in value):
        raise refuse("is a base URL and must not have a ?query; fix or unset it")
    path = parts.path.rstrip("/") if base else parts.path
    return urlunsplit(("https", netloc, path, parts.query, ""))


def default_status_message(service: str, status: int) -> str:
    """The standard message for a non-2xx status."""
    if status in (401, 403):
        return f"{service} rejected the credentials (HTTP {status})"
    if status == 429:
        return f"{service} is rate limiting requests (HTTP 429)"
    if status >= 500:
        return f"{service} is unavailable (HTTP {status})"
    return f"{service} answered HTTP {status}"


def error_for_status(status: int, message: str, *, retry_after: float | None = None) -> ProviderError:
    """The typed error of a non-2xx status: 401/403 auth, 429 rate limit (with Retry-After), else unavailable."""
    if status in (401, 403):
        return AuthRequired(message)
    if status == 429:
        return RateLimited(message, retry_after=retry_after)
    return Unavailable(message)


@dataclass(frozen=True)
class HttpResponse:
    """A fully read response, with the secrets its request carried (for scrubbing what it says)."""

    status: int
    headers: httpx.Headers
    body: bytes
    url: str
    service: str
    secrets: tuple[str, ...] = field(default=(), repr=False)
    clock: Clock = field(default_factory=Clock, repr=False, compare=False)

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

    def retry_after(self, clock: Clock | None = None) -> float | None:
        """Return the Retry-After header in seconds, if any."""
        return parse_retry_after(self.headers.get("retry-after"), (clock or self.clock).now())

    def excerpt(self, limit: int = 200, *, text: str | None = None) -> str:
        """The body (or `text` taken from it), scrubbed of this request's secrets, then cut to `limit`."""
        return scrubbed_excerpt(self.text() if text is None else text, self.secrets, limit)

    def error(self, message: str | None = None, *, excerpt: int = 0) -> ProviderError:
        """The typed error of this (non-2xx) status.

        `message` defaults to the standard phrasing; with `excerpt` > 0 a body excerpt of at most that
        many characters (scrubbed, then cut) follows it after a colon when the body says anything.
        """
        text = message if message is not None else default_status_message(self.service, self.status)
        if excerpt > 0:
            detail = self.excerpt(excerpt)
            if detail:
                text = f"{text}: {detail}"
        retry = self.retry_after() if self.status == 429 else None
        return error_for_status(self.status, text, retry_after=retry)


def raise_for_status(response: HttpResponse, clock: Clock | None = None) -> None:
    """Translate a non-2xx status into a typed error (401/403 auth, 429 rate limit, 5xx unavailable)."""
    if 200 <= response.status < 300:
        return
    if clock is not None:
        raise error_for_status(
            response.status,
            default_status_message(response.service, response.status),
            retry_after=response.retry_after(clock) if response.status == 429 else None,
        )
    raise response.error()


class _Layer(Protocol):
    def feed(self, data: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


class _TooLarge(Exception):
    pass


class _Identity:
    def feed(self, data: bytes) -> bytes:
        return data

    def finish(self) -> bytes:
        return b""


class _Inflate:
    """zlib/gzip/raw-deflate decoding that never produces more than `limit` + 1 bytes in total."""

    def __init__(self, encoding: str, limit: int) -> None:
        self._gzip = encoding in ("gzip", "x-gzip")
        self._limit = limit
        self._total = 0
        self._started = False
        self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS if self._gzip else zlib.MAX_WBITS)

    def _room(self) -> int:
        room = self._limit - self._total + 1
        if room <= 0:
            raise _TooLarge
        return room

    def _count(self, chunk: bytes) -> bytes:
        self._total += len(chunk)
        if self._total > self._limit:
            raise _TooLarge
        return chunk

    def feed(self, data: bytes) -> bytes:
        if not self._started and not self._gzip:
            self._started = True
            try:
                return self._drain(data)
            except zlib.error:
                # Servers disagree on what "deflate" means: a zlib stream, or raw deflate data.
                self._decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                self._total = 0
        self._started = True
        return self._drain(data)

    def _drain(self, data: bytes) -> bytes:
        out: list[bytes] = []
        pending = data
        while True:
            if self._decoder.eof:
                break
            room = self._room()
            chunk = self._decoder.decompress(pending, room)
            out.append(self._count(chunk))
            pending = self._decoder.unconsumed_tail
            # A full buffer may leave output inside zlib even when all input was taken: ask again.
            if not pending and len(chunk) < room:
                break
        return b"".join(out)

    def finish(self) -> bytes:
        if self._decoder.eof:
            return b""
        return self._count(self._decoder.flush())


class BodyReader:
    """Collect a streamed body, decoding Content-Encoding, with the cap on the decoded size."""

    def __init__(self, content_encoding: str, limit: int) -> None:
        names = [n.strip().lower() for n in content_encoding.split(",") if n.strip()]
        layers: list[_Layer] = []
        for name in reversed(names):  # the last-applied encoding comes off first
            if name == "identity":
                continue
            if name not in ("gzip", "x-gzip", "deflate"):
                raise ValueError(name)
            layers.append(_Inflate(name, limit))
        self._layers = layers or [_Identity()]
        self._limit = limit
        self._size = 0
        self._raw = 0
        self._chunks: list[bytes] = []

    def _keep(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._limit:
            raise _TooLarge
        if data:
            self._chunks.append(data)

    def feed(self, raw: bytes) -> None:
        """Take the next raw chunk; raise _TooLarge past the cap (raw or decoded)."""
        self._raw += len(raw)
        if self._raw > self._limit:
            raise _TooLarge
        data = raw
        for layer in self._layers:
            data = layer.feed(data)
        self._keep(data)

    def finish(self) -> bytes:
        """Flush the decoders and return the whole decoded body."""
        tail = b""
        for layer in self._layers:
            tail = layer.feed(tail) if tail else b""
            tail += layer.finish()
        self._keep(tail)
        return b"".join(self._chunks)


JsonBody = dict[str, Any] | list[Any] | str | int | float | bool | None


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
            headers={"User-Agent": user_agent, "Accept-Encoding": ACCEPT_ENCODING},
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
        bearer: Secret | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        json_body: JsonBody = None,
        timeout: float | None = None,
        check_status: bool = True,
        secrets: Sequence[str] = (),
        max_body_bytes: int | None = None,
    ) -> HttpResponse:
        """Send a request and read the whole (capped) body; raise typed errors on failure.

        `service` is the upstream's display name used in every message. `bearer` sends
        `Authorization: Bearer <secret>`, and its value is scrubbed from anything the response is
        used to say (as are `secrets` and an override URL's userinfo). `timeout` (default 30 s) is
        clipped to the poll deadline. With `check_status` a non-2xx status raises its typed error.
        `max_body_bytes` replaces the client's cap on the decoded body for this request.
        """
        target, url_secrets = split_userinfo(self.rewrite(url))
        known = tuple(secrets) + url_secrets
        sent = dict(headers or {})
        if bearer is not None:
            sent["Authorization"] = f"Bearer {bearer.reveal()}"
            known = (bearer.reveal(), *known)
        limit = clip_timeout(timeout if timeout is not None else self.default_timeout)
        started = time.monotonic()
        cap = self.max_body_bytes if max_body_bytes is None else max_body_bytes
        too_large = ParseError(f"{service} answered with more than {_size(cap)}")
        try:
            async with self._client.stream(
                method,
                target,
                headers=sent,
                params=dict(params) if params else None,
                json=json_body,
                timeout=httpx.Timeout(limit),
            ) as raw:
                # An in-memory response (a test transport's) arrives already read and decoded.
                preloaded = raw.is_stream_consumed
                encoding = "" if preloaded else raw.headers.get("content-encoding", "")
                try:
                    reader = BodyReader(encoding, cap)
                except ValueError:
                    raise ParseError(f"{service} answered with an unsupported content encoding") from None
                try:
                    if preloaded:
                        reader.feed(raw.content)
                    else:
                        async for chunk in raw.aiter_raw():
                            reader.feed(chunk)
                    body = reader.finish()
                except _TooLarge:
                    raise too_large from None
                except zlib.error:
                    raise ParseError(f"{service} answered with a body that cannot be decompressed") from None
                response = HttpResponse(
                    status=raw.status_code,
                    headers=raw.headers,
                    body=body,
                    url=target,
                    service=service,
                    secrets=known,
                    clock=self.clock,
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
            raise_for_status(response)
        return response

    async def get(
        self,
        url: str,
        *,
        service: str,
        bearer: Secret | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
        check_status: bool = True,
        secrets: Sequence[str] = (),
        max_body_bytes: int | None = None,
    ) -> HttpResponse:
        """Send a GET request (see `request`)."""
        return await self.request(
            "GET", url, service=service, bearer=bearer, headers=headers, params=params,
            timeout=timeout, check_status=check_status, secrets=secrets, max_body_bytes=max_body_bytes,
        )

    async def post(
        self,
        url: str,
        *,
        service: str,
        bearer: Secret | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        json_body: JsonBody = None,
        timeout: float | None = None,
        check_status: bool = True,
        secrets: Sequence[str] = (),
    ) -> HttpResponse:
        """Send a POST request (see `request`)."""
        return await self.request(
            "POST", url, service=service, bearer=bearer, headers=headers, params=params,
            json_body=json_body, timeout=timeout, check_status=check_status, secrets=secrets,
        )

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._client.aclose()
