"""Domain exceptions: each names the layer, row, field or demand at fault."""

from __future__ import annotations

__all__ = [
    "CapacityError",
    "InvalidBenchmarkError",
    "InvalidGeodataError",
    "InvalidRequestError",
    "InvalidScenarioError",
    "OptimizerError",
    "UnknownNetworkError",
    "UnknownSiteError",
]


class OptimizerError(Exception):
    """Base class of every error fiberopt raises on purpose."""


class InvalidGeodataError(OptimizerError, ValueError):
    """Geodata that fails validation; the message lists every problem found."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class InvalidBenchmarkError(OptimizerError, ValueError):
    """A published benchmark instance file that does not parse; names the file and what is wrong."""


class InvalidScenarioError(OptimizerError, ValueError):
    """A scenario file or its settings that cannot be used as written."""


class InvalidRequestError(OptimizerError, ValueError):
    """A demand or solver option outside its valid range."""


class UnknownSiteError(OptimizerError, LookupError):
    """A demand names a site that the geodata does not hold."""


class UnknownNetworkError(OptimizerError, LookupError):
    """A request names a network id or data set the server does not hold."""


class CapacityError(OptimizerError):
    """A request over a server limit (size, concurrent solves); retry later or send less."""
