"""Errors with exit codes. The CLI prints ``picd: error: <message>`` and exits with ``code``."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of the ``picd`` command (documented in README.md)."""

    OK = 0
    INTERNAL = 1        # a bug: please report it
    USAGE = 2           # bad command-line usage (click's own code)
    BAD_INPUT = 3       # input is not a readable image/PDF, or is empty, too large, encrypted
    BAD_STREAM = 4      # a .picd file that is truncated, corrupted, or of another format/version
    MISSING_MODEL = 5   # the file names a codec/model that is not installed, or weights fail their hash
    TARGET = 6          # the requested size cannot be met (reserved; encode warns and codes at its floor)
    IO = 7              # cannot write the output


class PicdError(Exception):
    """Base of all expected errors; ``code`` is the process exit code."""

    code: ExitCode = ExitCode.INTERNAL


class BadInputError(PicdError, ValueError):
    code = ExitCode.BAD_INPUT


class BadStreamError(PicdError, ValueError):
    code = ExitCode.BAD_STREAM


class MissingModelError(PicdError, LookupError):
    code = ExitCode.MISSING_MODEL


class OutputError(PicdError, OSError):
    code = ExitCode.IO
