"""Errors every layer raises for a setting it cannot use (a leaf module: it imports nothing)."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message starts with the field's name."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")
