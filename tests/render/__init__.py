"""Tests of the output formats in codexbard.render."""
