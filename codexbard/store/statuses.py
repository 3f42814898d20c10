"""The status repository: the last service status read for each provider."""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import ValidationError

from codexbard.models import ProviderStatus
from codexbard.store.database import Connection, Database, first_line, rows_of
from codexbard.store.records import to_epoch

log = logging.getLogger(__name__)


class StatusRepository:
    """Reads and writes `provider_status`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def write(self, conn: Connection, provider: str, status: ProviderStatus, fetched_at: datetime) -> None:
        """Replace a provider's stored status (inside the caller's transaction)."""
        await conn.execute(
            "INSERT INTO provider_status (provider, status, fetched_at) VALUES (?, ?, ?) "
            "ON CONFLICT (provider) DO UPDATE SET "
            "status = excluded.status, fetched_at = excluded.fetched_at",
            (provider, status.model_dump_json(by_alias=True), to_epoch(fetched_at)),
        )

    async def load(self) -> dict[str, ProviderStatus]:
        """The stored service status of each provider; unreadable rows are skipped."""
        async with self._db.reading() as conn:
            rows = await rows_of(conn, "SELECT provider, status FROM provider_status ORDER BY provider")
        statuses: dict[str, ProviderStatus] = {}
        for provider, status in rows:
            try:
                statuses[provider] = ProviderStatus.model_validate_json(status)
            except (ValidationError, ValueError) as exc:
                log.warning(
                    "database %s: skipping the unreadable status of %s (%s)",
                    self._db.path,
                    provider,
                    first_line(exc),
                )
        return statuses
