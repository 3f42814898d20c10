"""The HTTP API: the app factory, its routes (`api/routes/`), response models, the serving layer and guards."""
