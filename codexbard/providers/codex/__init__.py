"""Codex (OpenAI Codex CLI / ChatGPT plan quota): constants, raw models and pure parsing so far.

The provider is not registered yet: its strategies (PAT, OAuth, CLI RPC, web, `/status` PTY) come
next, on top of the credential, refresh and process seams in `codexbard/host/`.
"""
