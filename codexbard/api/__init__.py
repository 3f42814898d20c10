"""The HTTP API: FastAPI app factory, routes, output formats and request guards."""
