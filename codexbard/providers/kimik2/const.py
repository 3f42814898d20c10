"""Kimi K2 (unofficial credit relay) constants: URLs, env var names, labels."""

from __future__ import annotations

from typing import Final

from codexbard.providers.base import ApiKey, EnvVar

PROVIDER_ID: Final = "kimik2"
DISPLAY_NAME: Final = "Kimi K2"
SERVICE: Final = "kimi-k2.ai"

CREDITS_URL: Final = "https://kimi-k2.ai/api/user/credits"
DASHBOARD_URL: Final = "https://kimrel.com/my-credits"

# The provider's own variable: it alone (with a configured key) makes the provider auto-enable.
OWN_ENV_VARS: Final = ("KIMI_K2_API_KEY",)
# Generic Kimi variables, read only when `[providers.kimik2] enabled = true`, so that a key meant for
# another Kimi product is never sent to this third-party relay unasked.
FALLBACK_ENV_VARS: Final = ("KIMI_API_KEY", "KIMI_KEY")

REMAINING_HEADER: Final = "x-credits-remaining"
REQUEST_TIMEOUT: Final = 30.0
CREDITS_UNIT: Final = "credits"

# Error bodies are quoted in messages up to this many characters (scrubbed first).
EXCERPT_LIMIT: Final = 160

API_KEY: Final = ApiKey(DISPLAY_NAME, env_vars=OWN_ENV_VARS, opt_in_env_vars=FALLBACK_ENV_VARS)
ENABLE_HINT: Final = API_KEY.hint(PROVIDER_ID)
ENV_VARS: Final = (
    EnvVar("KIMI_K2_API_KEY", "Kimi K2 API key (auto-enables the provider)", secret=True),
    *(EnvVar(name, "generic Kimi API key, read only with `[providers.kimik2] enabled = true`", secret=True)
      for name in FALLBACK_ENV_VARS),
)
