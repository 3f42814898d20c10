"""`POST /auth`: trade the bearer token for a session cookie, so the web page can read GET routes.

The body is `{"token": "…"}` (JSON, at most `MAX_BODY` bytes). A right token gets 200 and an HttpOnly,
SameSite=Strict cookie (`codexbard.api.sessions`); a wrong one 401. The guard's cross-site refusal applies
(it is a POST), and a JSON body cannot be sent cross-site without a CORS preflight, which nothing here
grants. Too many wrong tokens in a minute get 429 for the rest of that minute. The token is never echoed,
logged or accepted from the query string.
"""

from __future__ import annotations

import hmac
import json
import math
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from codexbard.api.context import ApiContext
from codexbard.api.errors import ClientError, json_response
from codexbard.api.schemas import AuthResult, ErrorBody
from codexbard.api.sessions import set_cookie_header

MAX_BODY: Final = 4096
NO_TOKEN: Final = "this codexbard has no token: every route is open and no sign-in is needed"
WRONG_TOKEN: Final = "wrong token"


async def _read_body(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ClientError(413, {"error": f"the body is larger than {MAX_BODY} bytes"})
    return bytes(body)


def _given_token(raw: bytes) -> str:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ClientError(400, {"error": 'the body must be a JSON object {"token": "…"}'}) from None
    token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise ClientError(400, {"error": 'the body must be a JSON object {"token": "…"} with a non-empty token'})
    return token


def router(ctx: ApiContext) -> APIRouter:
    """The sign-in route over one context."""
    api = APIRouter(tags=["auth"])

    @api.post(
        "/auth",
        summary="Exchange the token for an HttpOnly, SameSite=Strict session cookie (the web page's sign-in)",
        response_model=AuthResult,
        responses={
            400: {"model": ErrorBody, "description": "no token is configured, or the body is not {\"token\": …}"},
            401: {"model": ErrorBody, "description": "wrong token"},
            413: {"model": ErrorBody, "description": "body too large"},
            415: {"model": ErrorBody, "description": "the body is not JSON"},
            429: {"model": ErrorBody, "description": "too many wrong tokens; see Retry-After"},
        },
    )
    async def auth(request: Request) -> Response:
        configured = ctx.settings.token
        if configured is None or not configured.get_secret_value():
            raise ClientError(400, {"error": NO_TOKEN})
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            raise ClientError(415, {"error": "send the token as JSON: Content-Type: application/json"})
        sessions = ctx.sessions
        locked = sessions.locked_for()
        if locked > 0:
            wait = math.ceil(locked)
            response = json_response({"error": f"too many wrong tokens; try again in {wait} s"}, 429)
            response.headers["retry-after"] = str(wait)
            return response
        given = _given_token(await _read_body(request))
        if not hmac.compare_digest(given.encode(), configured.get_secret_value().encode()):
            sessions.note_failure()
            return json_response({"error": WRONG_TOKEN}, 401)
        ttl = int(sessions.ttl_seconds)
        response = json_response({"authenticated": True, "expiresInSeconds": ttl})
        response.raw_headers.append((b"set-cookie", set_cookie_header(sessions.create(), ttl)))
        response.headers["cache-control"] = "no-store"
        return response

    return api
