"""Client errors as JSON: the exception routes raise, the handlers that render every error, the helpers."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Final

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:  # FastAPI is imported by the router app only (see `codexbard.api.fast`)
    from fastapi import FastAPI

log = logging.getLogger("codexbard.api")

JSON_TYPE: Final = "application/json"
SHUTTING_DOWN: Final = {"error": "codexbard is shutting down; try again once it is back"}


class ClientError(Exception):
    """A request the API refuses with a 4xx status and a JSON body (`{"error": …}` and maybe `known`)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("error"))
        self.status = status
        self.body = body


def json_bytes(data: Any) -> bytes:
    """Compact UTF-8 JSON, as every route writes it."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(data: Any, status: int = 200) -> Response:
    """A JSON response with the compact encoding."""
    return Response(json_bytes(data), status, media_type=JSON_TYPE)


def shutting_down() -> Response:
    """503 for a request that the server's shutdown cut short."""
    response = json_response(SHUTTING_DOWN, 503)
    response.headers["retry-after"] = "5"
    return response


def install_handlers(app: FastAPI) -> None:
    """Render every error as `{"error": …}`: client errors as 4xx, anything unexpected as a logged 500."""
    from fastapi.exceptions import RequestValidationError

    async def client_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ClientError)
        return json_response(exc.body, exc.status)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body"))
        return json_response({"error": f"invalid parameter '{where}': {first.get('msg', 'invalid')}"}, 400)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        response = json_response({"error": str(exc.detail)}, exc.status_code)
        response.headers.update(exc.headers or {})
        return response

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error serving %s", request.url.path)
        return json_response({"error": "internal error"}, 500)

    app.add_exception_handler(ClientError, client_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
