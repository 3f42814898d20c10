"""Constants of the z.ai / BigModel (GLM Coding Plan) provider: URLs, env vars, files, labels."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import Field, SecretStr

from codexbard.providers.base import EnvVar, ProviderSettings

PROVIDER_ID: Final = "zai"
DISPLAY_NAME: Final = "z.ai"

REGION_GLOBAL: Final = "global"
REGION_CN: Final = "bigmodel-cn"
REGIONS: Final = (REGION_GLOBAL, REGION_CN)

SCOPE_PERSONAL: Final = "personal"
SCOPE_TEAM: Final = "team"
SCOPES: Final = (SCOPE_PERSONAL, SCOPE_TEAM)

GLOBAL_HOST: Final = "api.z.ai"
CN_HOST: Final = "open.bigmodel.cn"
REGION_HOSTS: Final[dict[str, str]] = {REGION_GLOBAL: GLOBAL_HOST, REGION_CN: CN_HOST}
REGION_SERVICES: Final[dict[str, str]] = {REGION_GLOBAL: "z.ai", REGION_CN: "z.ai (BigModel CN)"}

QUOTA_PATH: Final = "/api/monitor/usage/quota/limit"
MODEL_USAGE_PATH: Final = "/api/monitor/usage/model-usage"
MODEL_USAGE_TIMEOUT: Final = 5.0
TEAM_MODEL_USAGE_TYPE: Final = "3"
# (days back, section title) of the two optional model-usage calls, in the order they are made.
MODEL_USAGE_RANGES: Final = ((1, "Hourly tokens"), (30, "Daily tokens"))
BALANCE_URL: Final = "https://www.bigmodel.cn/api/biz/account/query-customer-account-report"
BALANCE_SERVICE: Final = "BigModel balance"

QUOTA_TIMEOUT: Final = 15.0
BALANCE_TIMEOUT: Final = 5.0
# Seconds kept free before the poll deadline so the optional balance call never races it.
DEADLINE_MARGIN: Final = 0.5
POLL_DEADLINE: Final = 20.0

# Team scope: the query value that asks for team usage, and the headers naming the team.
TEAM_QUOTA_TYPE: Final = "2"
ORG_HEADER: Final = "Bigmodel-Organization"
PROJECT_HEADER: Final = "Bigmodel-Project"

ENV_API_KEY: Final = "Z_AI_API_KEY"
# Extra key variables, read for the bigmodel-cn region only, in this order.
CN_ENV_API_KEYS: Final = ("BIGMODEL_API_KEY", "ZHIPU_API_KEY", "ZHIPUAI_API_KEY", "GLM_API_KEY")
# Key files of other tools, read for the bigmodel-cn region only (first line), in this order.
CN_KEY_FILES: Final = (
    "~/.coding-relay/glm-api-key",
    "~/.config/bigmodel/api_key",
    "~/.config/zhipu/api_key",
)

ENV_API_HOST: Final = "Z_AI_API_HOST"
ENV_QUOTA_URL: Final = "Z_AI_QUOTA_URL"
ENV_BALANCE_URL: Final = "Z_AI_BALANCE_URL"
ENV_ORGANIZATION: Final = "Z_AI_BIGMODEL_ORGANIZATION"
ENV_PROJECT: Final = "Z_AI_BIGMODEL_PROJECT"

DASHBOARD_URL: Final = "https://z.ai/manage-apikey/coding-plan/personal/my-plan"
CN_DASHBOARD_URL: Final = "https://bigmodel.cn/coding-plan/personal/usage"
CN_TEAM_DASHBOARD_URL: Final = "https://bigmodel.cn/coding-plan/team/usage-stats"

# Limit types in the quota payload.
TOKENS_LIMIT: Final = "TOKENS_LIMIT"
CREDIT_LIMIT: Final = "CREDIT_LIMIT"
TIME_LIMIT: Final = "TIME_LIMIT"

# Unit codes of `limits[].unit`: minutes per unit and the unit's name.
UNIT_MINUTES: Final[dict[int, int]] = {1: 1440, 3: 60, 5: 1, 6: 10080}
UNIT_NAMES: Final[dict[int, str]] = {1: "day", 3: "hour", 5: "minute", 6: "week"}
# A TIME_LIMIT of unit 5 (minute) and number 1 is the upstream's marker of the monthly MCP quota.
MONTHLY_MCP_MINUTES: Final = 43200

MCP_WINDOW_ID: Final = "zai-mcp"
MCP_TITLE: Final = "MCP"
SESSION_LABEL: Final = "5-hour"
WEEKLY_LABEL: Final = "Weekly"
CREDITS_UNIT: Final = "CNY"



class ZaiSettings(ProviderSettings):
    """`[providers.zai]`: region, usage scope and the BigModel team ids."""

    region: Literal["global", "bigmodel-cn"] = Field(
        REGION_GLOBAL, description="global (api.z.ai) or bigmodel-cn (open.bigmodel.cn)"
    )
    usage_scope: Literal["personal", "team"] = Field(
        SCOPE_PERSONAL,
        description="personal, or team (BigModel organization usage; needs organization_id and project_id)",
    )
    organization_id: str | None = Field(None, description="BigModel organization id (usage_scope = team)")
    project_id: str | None = Field(None, description="BigModel project id (usage_scope = team)")


class ZaiAccountSettings(ZaiSettings):
    """One `[[providers.zai.accounts]]` entry: the provider keys plus the account's own API key."""

    api_key: SecretStr | None = Field(None, description="this account's z.ai API key (prefer set-secret --account)")


ENV_VARS: Final = (
    EnvVar(ENV_API_KEY, "z.ai API key", secret=True),
    *(EnvVar(name, "z.ai API key read for region bigmodel-cn", secret=True) for name in CN_ENV_API_KEYS),
    EnvVar(ENV_API_HOST, "quota endpoint host (https only; the standard path is added when it has none)"),
    EnvVar(ENV_QUOTA_URL, "full quota endpoint URL (https only; wins over Z_AI_API_HOST)"),
    EnvVar(ENV_BALANCE_URL, "BigModel balance endpoint URL (https only; region bigmodel-cn)"),
    EnvVar(ENV_ORGANIZATION, "BigModel organization id when organization_id is not set (team scope)"),
    EnvVar(ENV_PROJECT, "BigModel project id when project_id is not set (team scope)"),
)
