"""Service-status polling: Statuspage.io pages and the Google Workspace incidents feed."""
