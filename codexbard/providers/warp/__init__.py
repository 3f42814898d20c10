"""Warp: AI credits of the plan period plus add-on (bonus) credit grants."""

from __future__ import annotations

from codexbard.providers.base import ProviderSpec
from codexbard.providers.warp.api import WarpApi
from codexbard.providers.warp.const import (
    DASHBOARD_URL,
    DISPLAY_NAME,
    ENABLE_HINT,
    ENV_VARS,
    PRIMARY_LABEL,
    PROVIDER_ID,
    SECONDARY_LABEL,
)

PROVIDER = ProviderSpec(
    id=PROVIDER_ID,
    display_name=DISPLAY_NAME,
    strategies=(WarpApi(),),
    window_labels=(PRIMARY_LABEL, SECONDARY_LABEL, None),
    dashboard_url=DASHBOARD_URL,
    status=None,
    enable_hint=ENABLE_HINT,
    env=ENV_VARS,
)
