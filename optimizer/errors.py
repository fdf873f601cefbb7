"""Domain exceptions: each names the layer, row, field or demand at fault."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "CapacityError",
    "InvalidBenchmarkError",
    "InvalidGeodataError",
    "InvalidRequestError",
    "InvalidScenarioError",
    "OptimizerError",
    "UnknownCorridorError",
    "UnknownJurisdictionError",
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
        """A `where: what` or `field.path what` message as a violation (the conventions used here)."""
        where, sep, what = message.partition(": ")
        if sep and what:
            return cls(where, what)
        if match := _FIELD_PATH.match(message):
            return cls(match.group(1), message[match.end() :])
        return cls("", message)


_FIELD_PATH = re.compile(r"([A-Za-z_][\w]*(?:\[\d+\]|\.[A-Za-z_][\w]*)*) ")
"""A leading request field path such as `demands[2].max_cost` followed by its problem."""


class OptimizerError(Exception):
    """Base class of every error fiberopt raises on purpose."""

    @property
    def violations(self) -> tuple[Violation, ...]:
        """The problems this error reports, one per field at fault."""
        return tuple(Violation.parse(part) for part in str(self).split("; "))


class InvalidGeodataError(OptimizerError, ValueError):
    """Geodata that fails validation; the message lists every problem found."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))

    def __reduce__(self) -> tuple:
        """Pickle with the problem list (builds in a child process send errors back)."""
        return type(self), (self.problems,)

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


class UnknownCorridorError(OptimizerError, LookupError):
    """A demand excludes a corridor or shared-risk group that the geodata does not hold."""


class UnknownAreaError(OptimizerError, LookupError):
    """A demand names an area (id or group) that the geodata's areas layer does not hold."""


class UnknownJurisdictionError(OptimizerError, LookupError):
    """A demand names a jurisdiction that the geodata does not hold."""


class UnknownNetworkError(OptimizerError, LookupError):
    """A request names a network id or data set the server does not hold."""


class CapacityError(OptimizerError):
    """A request over a server limit (size, concurrent solves); retry later or send less."""
