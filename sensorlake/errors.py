"""Errors that say what failed and what to do next."""
from __future__ import annotations


class SensorlakeError(Exception):
    """Base error: ``message`` says what failed, ``hint`` what to do about it."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(SensorlakeError):
    """The configuration, a definition file or a command-line value is wrong."""

    exit_code = 2


class ServiceError(SensorlakeError):
    """A service could not be started, reached or stopped."""


class InputError(SensorlakeError):
    """An input file or record cannot be read at all."""


class QueryError(SensorlakeError):
    """An analyst's SQL names an unknown table or column, or does not parse."""


class GateFailed(SensorlakeError):
    """A quality gate failed; the run stops."""

    exit_code = 3
