"""Request guards: the Host-header check (DNS rebinding), cross-site writes, and the bearer token.

A web page can make the browser send a `POST` to localhost (a "simple" request needs no CORS
preflight). Browsers mark such requests with `Sec-Fetch-Site` and `Origin`; a state-changing request
whose `Sec-Fetch-Site` is not `same-origin`/`none`, or whose `Origin` names another host, is refused.
curl and the CLI send neither header and are not affected.

With a token set, a request needs `Authorization: Bearer <token>`, except for `OPEN_PATHS` (the web page,
`/health`, and `POST /auth`, which trades the token for a session cookie: `codexbard.api.sessions`). A valid
session cookie stands in for the token on GET and HEAD requests, so the page's `EventSource` can reach
`/events`. The token is never read from a query string.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Final

from starlette.types import ASGIApp, Receive, Scope, Send

from codexbard.api.sessions import SessionStore, cookie_value

LOOPBACK_NAMES: Final = frozenset({"localhost", "127.0.0.1", "::1"})
OPEN_PATHS: Final = frozenset({"/health", "/", "/auth"})
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_SAME_SITE_FETCH: Final = frozenset({b"same-origin", b"none"})
_HOST_REFUSED: Final = (
    "this Host header is not allowed (DNS rebinding protection); on a non-loopback bind, add the name or IP "
    "clients use to `allowed_hosts` in the config (or CODEXBARD_ALLOWED_HOSTS='[\"name\"]')"
)


def is_loopback(host: str) -> bool:
    """Whether a bind address or name is loopback-only."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name part of a Host header (`[::1]:8765` → `::1`, `Example:80` → `example`)."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else value
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def allowed_host_names(bind: str, extra: Iterable[str]) -> frozenset[str]:
    """Loopback names always; on a non-loopback bind also the bind address and `allowed_hosts`."""
    names = set(LOOPBACK_NAMES)
    if not is_loopback(bind):
        if bind not in ("0.0.0.0", "::"):
            names.add(bind.strip("[]").lower())
        names.update(h.strip().lower() for h in extra if h.strip())
    return frozenset(names)


Streamer = Callable[[Receive, Send], Awaitable[None]]
"""A response that writes itself (a stream), given the request's receive and send."""
HotAnswer = tuple[int, bytes, str] | Streamer
"""(status, body, content type), or a `Streamer` for a response that stays open."""
HotRoute = Callable[[Scope], HotAnswer]
"""A GET route answered without the router: scope → (status, body, content type) or a `Streamer`."""


class GuardMiddleware:
    """Reject foreign Host headers and, when a token is set, requests without it.

    GET and HEAD requests for a path in `hot` are answered here once they pass the checks. A session cookie
    from `sessions` authenticates GET and HEAD requests like the token does.
    """

    def __init__(self, app: ASGIApp, *, allowed_hosts: frozenset[str], token: str | None,
                 hot: Mapping[str, HotRoute] | None = None, sessions: SessionStore | None = None) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.token = token.encode() if token else None
        self.hot = hot if hot is not None else {}
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = b""
        hosts = 0
        authorization = origin = fetch_site = cookie = b""
        for name, value in scope["headers"]:
            if name == b"host":
                host = value
                hosts += 1
            elif name == b"authorization":
                authorization = value
            elif name == b"origin":
                origin = value
            elif name == b"sec-fetch-site":
                fetch_site = value.strip().lower()
            elif name == b"cookie":
                cookie = cookie + b";" + value if cookie else value
        if hosts > 1:
            await _reject(send, 400, {"error": "more than one Host header"})
            return
        if host_name(host.decode("latin-1")) not in self.allowed_hosts:
            await _reject(send, 403, {"error": _HOST_REFUSED})
            return
        if scope["method"] not in SAFE_METHODS and self._cross_site(origin, fetch_site):
            await _reject(send, 403, {"error": "cross-site requests may not change anything here"})
            return
        if self.token is not None and scope["path"] not in OPEN_PATHS \
                and not self._authorized(scope["method"], authorization, cookie):
            await _reject(send, 401, {"error": "a bearer token is required"},
                          extra=[(b"www-authenticate", b"Bearer")])
            return
        route = self.hot.get(scope["path"])
        if route is not None and scope["method"] in ("GET", "HEAD"):
            answer = route(scope)
            if not isinstance(answer, tuple):
                await answer(receive, send)
                return
            status, body, media = answer
            await send({"type": "http.response.start", "status": status, "headers": [
                (b"content-type", media.encode("latin-1")), (b"content-length", b"%d" % len(body))]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    def _authorized(self, method: str, authorization: bytes, cookie: bytes) -> bool:
        """The bearer token, or (GET and HEAD only) a live session cookie."""
        if self.token is None:
            return True
        scheme, _, given = authorization.partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self.token):
            return True
        if self.sessions is None or method not in ("GET", "HEAD") or not cookie:
            return False
        return self.sessions.valid(cookie_value(cookie))

    def _cross_site(self, origin: bytes, fetch_site: bytes) -> bool:
        if fetch_site and fetch_site not in _SAME_SITE_FETCH:
            return True
        if not origin:
            return False
        if origin == b"null":
            return True
        _, _, authority = origin.decode("latin-1").partition("://")
        return host_name(authority) not in self.allowed_hosts


async def _reject(send: Send, status: int, body: dict[str, Any],
                  extra: list[tuple[bytes, bytes]] | None = None) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": data})
