"""`POST /ingest/claude-statusline`: Claude Code's status-line JSON updates a Claude account without a poll."""

from __future__ import annotations

import ipaddress
import json
import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from codexbard.api.context import ApiContext
from codexbard.api.errors import ClientError, json_response
from codexbard.api.schemas import CLIENT_ERRORS, ErrorBody
from codexbard.providers.claude.ingest import MAX_BODY_BYTES, SOURCE, UnknownAccount, choose_target, ingest

log = logging.getLogger(__name__)


class IngestAnswer(BaseModel):
    """Whether the pushed data was used, and why not."""

    accepted: bool
    reason: str | None


def _loopback(request: Request) -> bool:
    client = request.client
    if client is None:
        return True  # in-process transports (tests) have no peer
    try:
        return ipaddress.ip_address(client.host).is_loopback
    except ValueError:
        return client.host in ("localhost", "testclient")


def router(ctx: ApiContext) -> APIRouter:
    """The ingest route over one context."""
    api = APIRouter(tags=["ingest"])

    @api.post(
        "/ingest/claude-statusline",
        summary="Claude Code's status-line JSON: update a Claude account's session and weekly windows",
        response_model=IngestAnswer,
        responses={413: {"model": ErrorBody, "description": "body above 64 KiB"}, **CLIENT_ERRORS},
    )
    async def claude_statusline(
        request: Request,
        account: Annotated[str | None, Query(description="Claude account label")] = None,
        config_dir: Annotated[str | None, Query(description="CLAUDE_CONFIG_DIR of the sending session")] = None,
    ) -> Response:
        # A token-less daemon is loopback-only already; this keeps the route so even behind a proxy.
        if ctx.settings.token is None and not _loopback(request):
            raise ClientError(403, {"error": "ingest is accepted from loopback only (or with the bearer token)"})
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise ClientError(413, {"error": "body above 64 KiB"})
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > MAX_BODY_BYTES:
                raise ClientError(413, {"error": "body above 64 KiB"})
        try:
            payload: Any = json.loads(bytes(body))
        except (ValueError, RecursionError):
            payload = None
        if not isinstance(payload, dict):
            raise ClientError(400, {"error": "the body must be a JSON object"})
        try:
            targets = [a.target for a in ctx.state.accounts.values()]
            target = choose_target(targets, account, config_dir, str(Path.home()))
        except UnknownAccount as exc:
            raise ClientError(400, {"error": str(exc)}) from None
        if target is None:
            return json_response({"accepted": False, "reason": "Claude is not configured"})
        state = ctx.state.require(target.key)
        now = ctx.clock.now()
        result = ingest(payload, state.snapshot, now)
        if result.snapshot is None:
            return json_response({"accepted": False, "reason": result.reason})
        ctx.state.ingest(target.key, result.snapshot, SOURCE, now)
        if ctx.store is not None:
            try:
                await ctx.store.save_success(target.spec.id, target.account, result.snapshot, SOURCE, now)
            except Exception as exc:  # the database failing never fails the status line
                log.error("could not write the status-line update of %s: %s", target.key, exc)
        return json_response({"accepted": True, "reason": None})

    return api
