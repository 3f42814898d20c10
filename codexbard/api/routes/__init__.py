"""The API's routes, one module per route group; each exposes `router(ctx) -> APIRouter`."""
