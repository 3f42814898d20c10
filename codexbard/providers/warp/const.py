"""Warp constants: the GraphQL endpoint, request headers and body, env vars and labels."""

from __future__ import annotations

from typing import Final

from codexbard.providers.base import ApiKey, EnvVar

PROVIDER_ID: Final = "warp"
DISPLAY_NAME: Final = "Warp"
SERVICE: Final = "Warp"

OPERATION: Final = "GetRequestLimitInfo"
GRAPHQL_URL: Final = f"https://app.warp.dev/graphql/v2?op={OPERATION}"
DASHBOARD_URL: Final = "https://docs.warp.dev/reference/cli/api-keys"

ENV_API_KEY: Final = "WARP_API_KEY"
ENV_TOKEN: Final = "WARP_TOKEN"

TIMEOUT: Final = 15.0

# Warp's edge answers 429 "Rate exceeded." unless the User-Agent looks like the official client.
USER_AGENT: Final = "Warp/1.0"
CLIENT_ID: Final = "warp-app"
# The reference sends "macOS" even from Linux. The version is a fixed plausible value: a provider must
# not probe the host OS, and the server only needs a well-formed major.minor.patch.
OS_CATEGORY: Final = "macOS"
OS_NAME: Final = "macOS"
OS_VERSION: Final = "14.5.0"

PRIMARY_LABEL: Final = "Credits"
SECONDARY_LABEL: Final = "Add-on credits"
CREDITS_UNIT: Final = "credits"

API_KEY: Final = ApiKey(DISPLAY_NAME, env_vars=(ENV_API_KEY, ENV_TOKEN), note="a Warp API key, `wk-…`")
ENABLE_HINT: Final = API_KEY.hint(PROVIDER_ID)
ENV_VARS: Final = (
    EnvVar(ENV_API_KEY, "Warp API key (`wk-…`)", secret=True),
    EnvVar(ENV_TOKEN, "Warp API key when WARP_API_KEY is not set", secret=True),
)

QUERY: Final = """query GetRequestLimitInfo($requestContext: RequestContext!) {
  user(requestContext: $requestContext) {
    __typename
    ... on UserOutput {
      user {
        requestLimitInfo {
          isUnlimited
          nextRefreshTime
          requestLimit
          requestsUsedSinceLastRefresh
        }
        bonusGrants {
          requestCreditsGranted
          requestCreditsRemaining
          expiration
        }
        workspaces {
          bonusGrantsInfo {
            grants {
              requestCreditsGranted
              requestCreditsRemaining
              expiration
            }
          }
        }
      }
    }
  }
}
"""
