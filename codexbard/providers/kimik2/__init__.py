"""Kimi K2 (`kimik2`): the credit balance of an unofficial kimi-k2.ai relay key (retired upstream)."""

from __future__ import annotations

from codexbard.providers.base import ProviderSpec
from codexbard.providers.kimik2.api import KimiK2ApiStrategy
from codexbard.providers.kimik2.const import DASHBOARD_URL, DISPLAY_NAME, ENABLE_HINT, ENV_VARS, PROVIDER_ID

PROVIDER = ProviderSpec(
    id=PROVIDER_ID,
    display_name=DISPLAY_NAME,
    strategies=(KimiK2ApiStrategy(),),
    window_labels=(None, None, None),
    dashboard_url=DASHBOARD_URL,
    status=None,
    enable_hint=ENABLE_HINT,
    env=ENV_VARS,
)
