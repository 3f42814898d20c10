"""OpenRouter constants: endpoints, environment variables, labels and timeouts."""

from __future__ import annotations

from typing import Final

from codexbard.providers.base import ApiKey, EnvVar

PROVIDER_ID: Final = "openrouter"
DISPLAY_NAME: Final = "OpenRouter"
SERVICE: Final = "OpenRouter"

DEFAULT_BASE_URL: Final = "https://openrouter.ai/api/v1"
CREDITS_PATH: Final = "/credits"
KEY_PATH: Final = "/key"
DASHBOARD_URL: Final = "https://openrouter.ai/settings/credits"
STATUS_URL: Final = "https://status.openrouter.ai"

ENV_API_KEY: Final = "OPENROUTER_API_KEY"
ENV_API_URL: Final = "OPENROUTER_API_URL"
ENV_X_TITLE: Final = "OPENROUTER_X_TITLE"
ENV_HTTP_REFERER: Final = "OPENROUTER_HTTP_REFERER"

# OpenRouter shows X-Title as the app name in its activity pages; this is ours, not the reference's.
DEFAULT_X_TITLE: Final = "codexbard"

CREDITS_TIMEOUT: Final = 15.0
# /key is an optional enrichment: it may delay the credits result by at most this long.
KEY_TIMEOUT: Final = 1.0

PRIMARY_LABEL: Final = "Credits"
CURRENCY: Final = "USD"
COST_PERIOD: Final = "monthly"

API_KEY: Final = ApiKey(DISPLAY_NAME, env_vars=(ENV_API_KEY,))
ENABLE_HINT: Final = API_KEY.hint(PROVIDER_ID)
ENV_VARS: Final = (
    EnvVar(ENV_API_KEY, "OpenRouter API key", secret=True),
    EnvVar(ENV_API_URL, "API base URL (https:// or a bare host; default https://openrouter.ai/api/v1)"),
    EnvVar(ENV_X_TITLE, "the X-Title header sent with /credits (default codexbard)"),
    EnvVar(ENV_HTTP_REFERER, "the HTTP-Referer header sent with /credits (none by default)"),
)
# Follows every refusal of an OPENROUTER_API_URL value.
OVERRIDE_HINT: Final = "(for a local test server use [upstream_overrides] instead)"
