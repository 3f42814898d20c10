"""`GET /`: the self-contained web page (cards, history charts, live updates); always open."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from codexbard.api.context import ApiContext
from codexbard.web import page


def _page_response() -> Response:
    doc = page()
    return Response(doc.body, media_type="text/html; charset=utf-8", headers=doc.headers)


def router(ctx: ApiContext) -> APIRouter:
    """The web page route over one context."""
    api = APIRouter(tags=["page"])

    @api.get("/", response_class=Response, summary="The web page: one card per provider, history charts, live updates",
             responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}})
    async def index() -> Response:
        return _page_response()

    @api.head("/", include_in_schema=False)
    async def index_head() -> Response:
        return _page_response()

    return api
