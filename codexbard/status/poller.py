"""Poll every provider's service-status source once: each distinct URL fetched once, all concurrently.

A provider whose fetch or decode fails is left out of the result, so the caller keeps its last good
status (providers/status-pages.md: never flap to `unknown`). Link-only sources are never fetched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from codexbard.errors import NotConfigured, ParseError, ProviderError, Timeout
from codexbard.host.clock import Clock
from codexbard.host.http import HttpClient
from codexbard.models import ProviderStatus
from codexbard.status.source import StatusSource
from codexbard.status.statuspage import indicator_rank, parse_statuspage
from codexbard.status.workspace import parse_workspace_feed

__all__ = ["STATUS_TIMEOUT", "StatusPoller", "indicator_rank", "link_statuses"]

log = logging.getLogger(__name__)

STATUS_TIMEOUT: Final = 10.0


def link_statuses(sources: Mapping[str, StatusSource]) -> dict[str, ProviderStatus]:
    """Return the fixed status block of every link-only source (no indicator, never fetched)."""
    return {provider: source.link_status() for provider, source in sources.items() if source.kind == "link"}


def _service_name(url: str) -> str:
    return urlsplit(url).hostname or url


class StatusPoller:
    """Fetch and parse the polled status sources of a set of providers."""

    def __init__(self, http: HttpClient, clock: Clock) -> None:
        self.http = http
        self.clock = clock

    async def poll(self, sources: Mapping[str, StatusSource]) -> dict[str, ProviderStatus]:
        """Return a fresh status for each provider whose source was fetched and parsed successfully."""
        by_url: dict[str, list[tuple[str, StatusSource]]] = {}
        for provider, source in sources.items():
            url = source.poll_url
            if url is not None:
                by_url.setdefault(url, []).append((provider, source))
        if not by_url:
            return {}
        started = self.clock.monotonic()
        urls = list(by_url)
        results = await asyncio.gather(*(self._poll_url(url, by_url[url]) for url in urls))
        statuses: dict[str, ProviderStatus] = {}
        for found in results:
            statuses.update(found)
        log.debug(
            "status poll: %d of %d providers from %d URLs in %.0f ms",
            len(statuses),
            sum(len(group) for group in by_url.values()),
            len(urls),
            (self.clock.monotonic() - started) * 1000,
        )
        return statuses

    async def _poll_url(self, url: str, group: list[tuple[str, StatusSource]]) -> dict[str, ProviderStatus]:
        """Fetch one URL and parse it for every provider that shares it."""
        try:
            data = await self._fetch(url, feed=any(s.kind == "google-workspace" for _, s in group))
        except ProviderError as exc:
            for provider, _ in group:
                log.debug("status of %s not updated: %s: %s", provider, exc.kind, exc.message)
            return {}
        except Exception as exc:  # a bug must not stop the other sources
            log.debug("status fetch of %s raised unexpectedly", url, exc_info=True)
            for provider, _ in group:
                log.debug("status of %s not updated: internal: %s", provider, type(exc).__name__)
            return {}
        out: dict[str, ProviderStatus] = {}
        for provider, source in group:
            try:
                out[provider] = self._parse(data, source)
            except ProviderError as exc:
                log.debug("status of %s not updated: %s: %s", provider, exc.kind, exc.message)
            except Exception as exc:
                log.debug("status parse for %s raised unexpectedly", provider, exc_info=True)
                log.debug("status of %s not updated: internal: %s", provider, type(exc).__name__)
        return out

    async def _fetch(self, url: str, *, feed: bool) -> Any:
        service = _service_name(url)
        try:
            async with asyncio.timeout(STATUS_TIMEOUT):
                response = await self.http.get(
                    url, service=service, headers={"Accept": "application/json"}, timeout=STATUS_TIMEOUT
                )
        except TimeoutError:
            raise Timeout(f"{service} did not answer within {STATUS_TIMEOUT:g} s") from None
        if feed:
            # The Workspace feed is several hundred KB: decode it off the event loop.
            return await asyncio.to_thread(response.json)
        return response.json()

    @staticmethod
    def _parse(data: Any, source: StatusSource) -> ProviderStatus:
        if source.kind == "statuspage":
            return parse_statuspage(data, source.page_url)
        if source.kind == "google-workspace":
            if not source.product_id:
                raise NotConfigured("Google Workspace status source has no product id")
            return parse_workspace_feed(data, source.product_id, source.page_url)
        raise ParseError(f"status source kind {source.kind!r} is not polled")
