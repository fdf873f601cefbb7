"""Domain exceptions: each names the layer, row, field or demand at fault."""

from __future__ import annotations

__all__ = [
    "InvalidGeodataError",
    "InvalidRequestError",
    "InvalidScenarioError",
    "OptimizerError",
    "UnknownSiteError",
]


class OptimizerError(Exception):
    """Base class of every error fiberopt raises on purpose."""


class InvalidGeodataError(OptimizerError, ValueError):
    """Geodata that fails validation; the message lists every problem found."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class InvalidScenarioError(OptimizerError, ValueError):
    """A scenario file or its settings that cannot be used as written."""


class InvalidRequestError(OptimizerError, ValueError):
    """A demand or solver option outside its valid range."""


class UnknownSiteError(OptimizerError, LookupError):
    """A demand names a site that the geodata does not hold."""
