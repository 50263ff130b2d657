"""Cronwright: a self-hosted job scheduler and runner speaking the xyOps Events API."""

__version__ = "0.1.0"
