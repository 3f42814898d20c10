"""Capabilities the host gives providers: HTTP, credentials, files, processes, time."""
