"""Exception types shared across the package.

Why one module: the CLI turns every ``EdgecamError`` into one clear line and a non-zero exit, and
the daemon turns it into an error event while it keeps running, so every layer raises from this
small family instead of bare ``ValueError``/``RuntimeError``.
"""

from __future__ import annotations


class EdgecamError(Exception):
    """Base of every error the product reports to an operator."""

    exit_code = 1


class ConfigError(EdgecamError):
    """The configuration file or an override is invalid."""

    exit_code = 2


class ModelError(EdgecamError):
    """A model file is missing, corrupt (checksum mismatch), unknown to the manifest or misused."""

    exit_code = 3


class InputImageError(EdgecamError):
    """A photo cannot be decoded or is outside what the pipeline accepts."""

    exit_code = 4


class StorageError(EdgecamError):
    """A photo, sidecar or index entry could not be written completely."""

    exit_code = 5


class UnknownStyleError(EdgecamError):
    """A style name that the style book does not define."""

    exit_code = 6


class CameraError(EdgecamError):
    """The camera cannot be opened or stopped delivering frames."""

    exit_code = 7
