"""`GET /`: the self-contained web page (cards, history charts, live updates); always open."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from codexbard.api.context import ApiContext
from codexbard.web import page


def router(ctx: ApiContext) -> APIRouter:
    """The web page route over one context."""
    api = APIRouter(tags=["page"])

    @api.api_route("/", methods=["GET", "HEAD"], response_class=Response,
                   summary="The web page: one card per provider, history charts, live updates",
                   responses={200: {"content": {"text/html": {}}}})
    async def index() -> Response:
        doc = page()
        return Response(doc.body, media_type="text/html; charset=utf-8", headers=doc.headers)

    return api
