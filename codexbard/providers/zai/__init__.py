"""z.ai / GLM Coding Plan (global api.z.ai and BigModel CN open.bigmodel.cn)."""

from __future__ import annotations

from codexbard.providers.base import ProviderSpec
from codexbard.providers.zai.api import GLOBAL_KEY, ZaiApiStrategy
from codexbard.providers.zai.const import (
    DASHBOARD_URL,
    DISPLAY_NAME,
    ENV_VARS,
    POLL_DEADLINE,
    PROVIDER_ID,
    SESSION_LABEL,
    WEEKLY_LABEL,
    ZaiAccountSettings,
    ZaiSettings,
)

PROVIDER = ProviderSpec(
    id=PROVIDER_ID,
    display_name=DISPLAY_NAME,
    strategies=(ZaiApiStrategy(),),
    window_labels=(SESSION_LABEL, WEEKLY_LABEL, None),
    poll_deadline_seconds=POLL_DEADLINE,
    dashboard_url=DASHBOARD_URL,
    status=None,
    enable_hint=GLOBAL_KEY.hint(PROVIDER_ID),
    settings=ZaiSettings,
    account_settings=ZaiAccountSettings,
    env=ENV_VARS,
)
