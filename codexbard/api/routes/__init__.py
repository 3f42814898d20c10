"""The API's routes, one module per route group.

Each module exposes `router(ctx: ApiContext) -> APIRouter` (usage also takes the `UsageCache` the guard
serves from) and `create_app` includes it. A route declares its `response_model` (from
`codexbard.api.schemas`, or `codexbard.models.ProviderPayload`) so `/openapi.json` describes it, and
returns a ready `Response`, so FastAPI does not validate or re-serialize the payload per request.
Client errors are raised as `ClientError` and declared with `schemas.CLIENT_ERRORS`.
"""
