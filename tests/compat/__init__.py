"""Tests of `codexbard compat` and the `codexbar` shim it installs."""
