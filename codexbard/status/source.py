"""How a provider declares its service-status source (providers/status-pages.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from codexbard.models import ProviderStatus


@dataclass(frozen=True)
class StatusSource:
    """A status source: a polled Statuspage.io base, a Google Workspace product, or a link."""

    kind: Literal["statuspage", "google-workspace", "link"]
    url: str
    product_id: str | None = None

    @property
    def poll_url(self) -> str | None:
        """The URL to fetch, or None for a link-only source."""
        if self.kind == "statuspage":
            return self.url.rstrip("/") + "/api/v2/status.json"
        if self.kind == "google-workspace":
            return WORKSPACE_FEED_URL
        return None

    @property
    def page_url(self) -> str:
        """The page a person opens."""
        if self.kind == "google-workspace" and self.product_id:
            return f"https://www.google.com/appsstatus/dashboard/products/{self.product_id}/history"
        return self.url

    def link_status(self) -> ProviderStatus:
        """The status block of a link-only source (never claims an indicator)."""
        return ProviderStatus(kind="link", url=self.page_url)


WORKSPACE_FEED_URL = "https://www.google.com/appsstatus/dashboard/incidents.json"
