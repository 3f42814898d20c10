"""Browser sessions for the web page on a token-protected bind: `POST /auth` trades the token for a cookie.

A browser's `EventSource` cannot send an `Authorization` header, so the page asks for the token once and
`POST /auth` answers with an HttpOnly, SameSite=Strict cookie holding a random session id. The server keeps
only a SHA-256 digest of each id with its expiry (in memory: a restart signs every browser out), compares
digests in constant time, and bounds the number of live sessions (the oldest goes first). The cookie
authenticates GET and HEAD requests only; anything that changes state still needs the bearer token. After
`MAX_FAILURES` wrong tokens within `FAILURE_WINDOW_SECONDS`, sign-in is refused (429) until the window has
passed, so a token cannot be guessed at network speed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Final

COOKIE_NAME: Final = "codexbard_session"
DEFAULT_TTL_SECONDS: Final = 30 * 24 * 3600
MAX_SESSIONS: Final = 64
MAX_FAILURES: Final = 10
FAILURE_WINDOW_SECONDS: Final = 60.0


class SessionStore:
    """Server-side map of session digests to their expiry (monotonic seconds)."""

    def __init__(self, *, ttl_seconds: float = DEFAULT_TTL_SECONDS, max_sessions: int = MAX_SESSIONS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if ttl_seconds <= 0 or max_sessions < 1:
            raise ValueError("a session store needs a positive ttl and room for at least one session")
        self.ttl_seconds = ttl_seconds
        self.max_sessions = max_sessions
        self._clock = clock
        self._expiry: dict[bytes, float] = {}
        self._failures: deque[float] = deque(maxlen=MAX_FAILURES)

    def __len__(self) -> int:
        self._prune()
        return len(self._expiry)

    def create(self) -> str:
        """A new random session id (the cookie's value), valid for `ttl_seconds`."""
        self._prune()
        while len(self._expiry) >= self.max_sessions:
            del self._expiry[next(iter(self._expiry))]  # dicts keep insertion order: the oldest goes
        session_id = secrets.token_urlsafe(32)
        self._expiry[_digest(session_id.encode())] = self._clock() + self.ttl_seconds
        return session_id

    def valid(self, session_id: bytes) -> bool:
        """Whether a cookie value names a live session (digest compared in constant time)."""
        if not session_id or len(session_id) > 128:
            return False
        digest = _digest(session_id)
        now = self._clock()
        found = False
        for known, expires in self._expiry.items():
            if hmac.compare_digest(known, digest) and expires > now:
                found = True
        return found

    def note_failure(self) -> None:
        """Count one wrong token."""
        self._failures.append(self._clock())

    def locked_for(self) -> float:
        """Seconds until sign-in is accepted again (0 unless `MAX_FAILURES` wrong tokens came within the window)."""
        if len(self._failures) < MAX_FAILURES:
            return 0.0
        return max(0.0, self._failures[0] + FAILURE_WINDOW_SECONDS - self._clock())

    def revoke(self, session_id: bytes) -> None:
        """End one session (unknown ids are ignored)."""
        self._expiry.pop(_digest(session_id), None)

    def _prune(self) -> None:
        now = self._clock()
        for known in [k for k, expires in self._expiry.items() if expires <= now]:
            del self._expiry[known]


def _digest(session_id: bytes) -> bytes:
    return hashlib.sha256(session_id).digest()


def cookie_value(header: bytes, name: str = COOKIE_NAME) -> bytes:
    """The value of cookie `name` in a `Cookie` request header, or b"" when it is absent."""
    wanted = name.encode()
    for part in header.split(b";"):
        key, sep, value = part.strip().partition(b"=")
        if sep and key == wanted:
            return value.strip().strip(b'"')
    return b""


def set_cookie_header(session_id: str, max_age: int) -> bytes:
    """The `Set-Cookie` value for a new session: HttpOnly, SameSite=Strict, the whole site, `max_age` seconds."""
    return f"{COOKIE_NAME}={session_id}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict".encode()
