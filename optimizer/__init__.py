"""fiberopt: exact min-cost, latency-bounded fiber routes over right-of-way geodata."""

__version__ = "0.1.0"
