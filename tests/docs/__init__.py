"""Tests of the documentation's recipes."""
