"""Claude (Claude.ai subscription limits via Claude Code): not registered yet; strategies come next."""
