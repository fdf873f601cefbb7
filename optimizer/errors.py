"""Domain exceptions: each names the layer, row, field or demand at fault."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CapacityError",
    "InvalidBenchmarkError",
    "InvalidGeodataError",
    "InvalidRequestError",
    "InvalidScenarioError",
    "OptimizerError",
    "UnknownNetworkError",
    "UnknownSiteError",
    "Violation",
]


@dataclass(frozen=True)
class Violation:
    """One problem of a request or its data: where (layer, row, field) and what is wrong."""

    field: str
    description: str

    @classmethod
    def parse(cls, message: str) -> Violation:
        """A `where: what` message as a violation (the convention of every message here)."""
        where, sep, what = message.partition(": ")
        return cls(where, what) if sep and what else cls("", message)


class OptimizerError(Exception):
    """Base class of every error fiberopt raises on purpose."""

    @property
    def violations(self) -> tuple[Violation, ...]:
        """The problems this error reports, one per field at fault."""
        return (Violation.parse(str(self)),)


class InvalidGeodataError(OptimizerError, ValueError):
    """Geodata that fails validation; the message lists every problem found."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))

    @property
    def violations(self) -> tuple[Violation, ...]:
        """One violation per problem found."""
        return tuple(Violation.parse(p) for p in self.problems)


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
