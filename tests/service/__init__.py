"""Tests of `codexbard service`, the unit, the agent and the Dockerfile."""
