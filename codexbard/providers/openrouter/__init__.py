"""OpenRouter: prepaid credit balance plus the API key's own spending cap."""

from __future__ import annotations

from codexbard.providers.base import ProviderSpec
from codexbard.providers.openrouter.api import OpenRouterApi
from codexbard.providers.openrouter.const import (
    DASHBOARD_URL,
    DISPLAY_NAME,
    ENABLE_HINT,
    ENV_VARS,
    PRIMARY_LABEL,
    PROVIDER_ID,
    STATUS_URL,
)
from codexbard.status.source import StatusSource

PROVIDER = ProviderSpec(
    id=PROVIDER_ID,
    display_name=DISPLAY_NAME,
    strategies=(OpenRouterApi(),),
    window_labels=(PRIMARY_LABEL, None, None),
    dashboard_url=DASHBOARD_URL,
    status=StatusSource(kind="link", url=STATUS_URL),
    enable_hint=ENABLE_HINT,
    env=ENV_VARS,
)
