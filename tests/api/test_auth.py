"""The web page's sign-in: `POST /auth`, the session cookie, the guard that accepts it, and `GET /`."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from codexbard.api.app import create_app
from codexbard.api.routes.auth import MAX_BODY, NO_TOKEN
from codexbard.api.security import GuardMiddleware
from codexbard.api.sessions import (
    COOKIE_NAME,
    DEFAULT_TTL_SECONDS,
    MAX_FAILURES,
    SessionStore,
    cookie_value,
    set_cookie_header,
)
from codexbard.daemon import Daemon
from codexbard.host.clock import FixedClock
from codexbard.state import AccountState, State
from tests.api.test_app import BASE, make_daemon
from tests.fakes import ScriptedStrategy, fake_spec, make_runtime, snapshot

TOKEN = "s3cret-page-token"
PROTECTED = f'token = "{TOKEN}"\n'
COOKIE_SHAPE = re.compile(
    rf"^{COOKIE_NAME}=([A-Za-z0-9_-]{{43}}); Max-Age={DEFAULT_TTL_SECONDS}; Path=/; HttpOnly; SameSite=Strict$")
T0 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


class Ticker:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def protected_daemon(tmp_path: Path, clock: FixedClock | None = None) -> Daemon:
    runtime = make_runtime(tmp_path, [fake_spec("alpha", ScriptedStrategy([snapshot(40.0)]))], PROTECTED,
                           clock=clock)
    state = State(AccountState(p, runtime.detect_blocking(p)) for p in runtime.targets)
    return Daemon(runtime, None, state)


@pytest.fixture
async def protected(tmp_path: Path) -> AsyncIterator[Daemon]:
    d = protected_daemon(tmp_path)
    yield d
    await d.stop(timeout=1)


def client(d: Daemon, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(d)), base_url=BASE,
                             headers={"host": "127.0.0.1:8765", **headers})


async def sign_in(c: httpx.AsyncClient, token: str = TOKEN, **headers: str) -> httpx.Response:
    return await c.post("/auth", content=json.dumps({"token": token}),
                        headers={"content-type": "application/json", **headers})


# ---- the session store ----------------------------------------------------------------------------------------


def test_sessions_are_random_and_expire() -> None:
    ticker = Ticker()
    store = SessionStore(ttl_seconds=60, clock=ticker)
    first, second = store.create(), store.create()
    assert first != second and len(first) == len(second) == 43
    assert store.valid(first.encode()) and store.valid(second.encode())
    assert not store.valid(b"not-a-session") and not store.valid(b"") and not store.valid(b"x" * 200)
    ticker.now += 59.9
    assert store.valid(first.encode())
    ticker.now += 0.1
    assert not store.valid(first.encode())
    assert len(store) == 0


def test_sessions_are_bounded_and_revocable() -> None:
    store = SessionStore(max_sessions=3)
    ids = [store.create() for _ in range(4)]
    assert [store.valid(i.encode()) for i in ids] == [False, True, True, True]
    store.revoke(ids[2].encode())
    store.revoke(b"unknown")
    assert [store.valid(i.encode()) for i in ids] == [False, True, False, True]
    assert len(store) == 2


def test_session_store_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError, match="positive ttl"):
        SessionStore(ttl_seconds=0)
    with pytest.raises(ValueError, match="at least one session"):
        SessionStore(max_sessions=0)


@pytest.mark.parametrize(("header", "value"), [
    (b"codexbard_session=abc", b"abc"),
    (b"theme=dark; codexbard_session=abc-_1; other=2", b"abc-_1"),
    (b'codexbard_session="quoted"', b"quoted"),
    (b"xcodexbard_session=no; codexbard_sessionx=no", b""),
    (b"", b""),
    (b"garbage;;;=", b""),
])
def test_cookie_value(header: bytes, value: bytes) -> None:
    assert cookie_value(header) == value


def test_set_cookie_header_is_httponly_and_strict() -> None:
    assert set_cookie_header("abc", 60) == b"codexbard_session=abc; Max-Age=60; Path=/; HttpOnly; SameSite=Strict"


# ---- POST /auth and the cookie ---------------------------------------------------------------------------------


async def test_right_token_gives_a_session_cookie_for_get_routes(protected: Daemon) -> None:
    async with client(protected) as c:
        assert (await c.get("/usage")).status_code == 401
        r = await sign_in(c)
        assert r.status_code == 200
        assert r.json() == {"authenticated": True, "expiresInSeconds": DEFAULT_TTL_SECONDS}
        assert r.headers["cache-control"] == "no-store"
        match = COOKIE_SHAPE.match(r.headers["set-cookie"])
        assert match is not None, r.headers["set-cookie"]
        session = match.group(1)
        assert TOKEN not in r.text and TOKEN not in session
        cookie = {"cookie": f"{COOKIE_NAME}={session}"}
        usage = await c.get("/usage", headers=cookie)
        assert usage.status_code == 200 and [p["provider"] for p in usage.json()] == ["alpha"]
        assert (await c.get("/providers", headers=cookie)).status_code == 200
        assert (await c.get("/history?provider=alpha", headers=cookie)).status_code == 200
        assert (await c.head("/usage", headers=cookie)).status_code == 200
        # the cookie never stands in for the token on a request that changes something
        refresh = await c.post("/refresh", headers=cookie)
        assert (refresh.status_code, refresh.json()) == (401, {"error": "a bearer token is required"})
        # the bearer token still works, and a made-up session does not
        assert (await c.get("/usage", headers={"authorization": f"Bearer {TOKEN}"})).status_code == 200
        forged = await c.get("/usage", headers={"cookie": f"{COOKIE_NAME}=forged-session-id"})
        assert (forged.status_code, forged.json()) == (401, {"error": "a bearer token is required"})
        assert (await c.get("/usage", headers={"cookie": f"{COOKIE_NAME}={TOKEN}"})).status_code == 401


async def test_wrong_token_is_a_401_without_a_cookie(protected: Daemon) -> None:
    async with client(protected) as c:
        for wrong in ("nope", TOKEN + "x", TOKEN[:-1], TOKEN.upper()):
            r = await sign_in(c, wrong)
            assert (r.status_code, r.json()) == (401, {"error": "wrong token"})
            assert "set-cookie" not in r.headers
            assert wrong not in r.text


async def test_too_many_wrong_tokens_lock_sign_in_for_the_minute(tmp_path: Path) -> None:
    clock = FixedClock(T0)
    d = protected_daemon(tmp_path, clock)
    async with client(d) as c:
        for attempt in range(MAX_FAILURES):
            assert (await sign_in(c, f"guess-{attempt}")).status_code == 401
            clock.advance(1)
        locked = await sign_in(c)  # even the right token waits: the window started 10 s ago
        assert (locked.status_code, locked.json()) == (429, {"error": "too many wrong tokens; try again in 50 s"})
        assert locked.headers["retry-after"] == "50" and "set-cookie" not in locked.headers
        clock.advance(50)
        assert (await sign_in(c)).status_code == 200
        assert (await sign_in(c, "one-more-guess")).status_code == 401
        assert (await sign_in(c)).status_code == 429  # ten wrong tokens within the last minute again
        clock.advance(1)
        assert (await sign_in(c)).status_code == 200
    await d.stop(timeout=1)


@pytest.mark.parametrize(("body", "content_type", "status", "error"), [
    (b"{}", "application/json", 400, 'the body must be a JSON object {"token": "…"} with a non-empty token'),
    (b'{"token": ""}', "application/json", 400, 'the body must be a JSON object {"token": "…"} with a non-empty token'),
    (b'{"token": 5}', "application/json", 400, 'the body must be a JSON object {"token": "…"} with a non-empty token'),
    (b'["token"]', "application/json", 400, 'the body must be a JSON object {"token": "…"} with a non-empty token'),
    (b"{not json", "application/json", 400, 'the body must be a JSON object {"token": "…"}'),
    (b"\xff\xfe", "application/json", 400, 'the body must be a JSON object {"token": "…"}'),
    (b'{"token": "x"}', "text/plain", 415, "send the token as JSON: Content-Type: application/json"),
    (b"token=x", "application/x-www-form-urlencoded", 415, "send the token as JSON: Content-Type: application/json"),
    (b'{"token": "' + b"a" * MAX_BODY + b'"}', "application/json", 413, f"the body is larger than {MAX_BODY} bytes"),
])
async def test_bad_auth_bodies_are_clear_4xx(protected: Daemon, body: bytes, content_type: str, status: int,
                                             error: str) -> None:
    async with client(protected) as c:
        r = await c.post("/auth", content=body, headers={"content-type": content_type})
    assert (r.status_code, r.json()) == (status, {"error": error})
    assert "set-cookie" not in r.headers


async def test_the_token_is_never_taken_from_the_query_string(protected: Daemon) -> None:
    async with client(protected) as c:
        r = await c.post(f"/auth?token={TOKEN}", content=b"{}", headers={"content-type": "application/json"})
        assert r.status_code == 400 and "set-cookie" not in r.headers
        assert (await c.get(f"/usage?token={TOKEN}")).status_code == 401


@pytest.mark.parametrize("headers", [
    {"origin": "http://evil.example"},
    {"sec-fetch-site": "cross-site"},
    {"sec-fetch-site": "same-site"},
    {"origin": "null"},
])
async def test_cross_site_sign_in_is_refused(protected: Daemon, headers: dict[str, str]) -> None:
    async with client(protected) as c:
        r = await sign_in(c, **headers)
    assert (r.status_code, r.json()) == (403, {"error": "cross-site requests may not change anything here"})
    assert "set-cookie" not in r.headers


async def test_same_origin_sign_in_from_the_page_is_accepted(protected: Daemon) -> None:
    async with client(protected) as c:
        r = await sign_in(c, origin="http://127.0.0.1:8765", **{"sec-fetch-site": "same-origin"})
    assert r.status_code == 200 and COOKIE_SHAPE.match(r.headers["set-cookie"])


async def test_auth_without_a_configured_token(tmp_path: Path) -> None:
    d = make_daemon(tmp_path)
    async with client(d) as c:
        r = await sign_in(c, "anything")
        assert (r.status_code, r.json()) == (400, {"error": NO_TOKEN})
        assert "set-cookie" not in r.headers
        assert (await c.get("/usage")).status_code == 200
    await d.stop(timeout=1)


async def test_sessions_expire_on_the_daemon_clock(tmp_path: Path) -> None:
    clock = FixedClock(T0)
    d = protected_daemon(tmp_path, clock)
    async with client(d) as c:
        session = COOKIE_SHAPE.match((await sign_in(c)).headers["set-cookie"]).group(1)  # type: ignore[union-attr]
        cookie = {"cookie": f"{COOKIE_NAME}={session}"}
        clock.advance(DEFAULT_TTL_SECONDS - 1)
        assert (await c.get("/usage", headers=cookie)).status_code == 200
        clock.advance(1)
        assert (await c.get("/usage", headers=cookie)).status_code == 401
    await d.stop(timeout=1)


async def test_guard_reads_the_session_from_any_cookie_header() -> None:
    store = SessionStore()
    session = store.create()
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    guard = GuardMiddleware(app, allowed_hosts=frozenset({"127.0.0.1"}), token=TOKEN, sessions=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url=BASE) as c:
        split = await c.get("/events", headers=[("cookie", "a=1"), ("cookie", f"{COOKIE_NAME}={session}")])
        unsigned = await c.get("/events", headers={"cookie": "a=1"})
    assert split.status_code == 204 and unsigned.status_code == 401
    assert seen == ["/events"]


# ---- GET / ------------------------------------------------------------------------------------------------------


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


async def test_page_is_open_self_contained_and_locked_down(protected: Daemon) -> None:
    async with client(protected) as c:
        r = await c.get("/")
        head = await c.head("/")
    assert r.status_code == 200 and head.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    html = r.text
    script = html.split("<script>", 1)[1].split("</script>", 1)[0]
    style = html.split("<style>", 1)[1].split("</style>", 1)[0]
    assert r.headers["content-security-policy"] == (
        f"default-src 'none'; script-src {csp_hash(script)}; style-src {csp_hash(style)}; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-content-type-options"] == "nosniff"
    # nothing is loaded from anywhere else: no external script, stylesheet, font or image
    assert html.count("<script") == 1 and "<link" not in html and "@import" not in html and "url(" not in html
    assert "src=" not in html.replace("/*SCRIPT*/", "")
    assert re.findall(r"https?://[^\s\"'<>]+", html) == ["http://www.w3.org/2000/svg"]  # the SVG namespace only
    for route in ('"/usage"', '"/events"', '"/auth"', '"/history?"'):
        assert route in script
    assert "localStorage" not in script and "document.cookie" not in script  # the token is never kept
    assert TOKEN not in html


async def test_openapi_describes_auth_and_the_page(tmp_path: Path) -> None:
    d = make_daemon(tmp_path)
    async with client(d) as c:
        spec = (await c.get("/openapi.json")).json()
    await d.stop(timeout=1)
    assert set(spec["paths"]["/auth"]) == {"post"}
    assert set(spec["paths"]["/auth"]["post"]["responses"]) == {"200", "400", "401", "413", "415", "429"}
    assert "text/html" in spec["paths"]["/"]["get"]["responses"]["200"]["content"]
