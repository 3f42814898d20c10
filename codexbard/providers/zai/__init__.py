"""z.ai / GLM Coding Plan (global api.z.ai and BigModel CN open.bigmodel.cn)."""

from __future__ import annotations

from codexbard.providers.base import ProviderSpec
from codexbard.providers.zai.api import GLOBAL_KEY, ZaiApiStrategy
from codexbard.providers.zai.const import (
    ACCOUNT_KEYS,
    CONFIG_KEYS,
    DASHBOARD_URL,
    DISPLAY_NAME,
    POLL_DEADLINE,
    PROVIDER_ID,
    SESSION_LABEL,
    WEEKLY_LABEL,
)

PROVIDER = ProviderSpec(
    id=PROVIDER_ID,
    display_name=DISPLAY_NAME,
    strategies=(ZaiApiStrategy(),),
    window_labels=(SESSION_LABEL, WEEKLY_LABEL, None),
    poll_deadline_seconds=POLL_DEADLINE,
    dashboard_url=DASHBOARD_URL,
    status=None,
    config_keys=CONFIG_KEYS,
    account_keys=ACCOUNT_KEYS,
    enable_hint=GLOBAL_KEY.hint(PROVIDER_ID),
)
