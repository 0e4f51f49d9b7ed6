"""Exception types. All are ``ValueError`` subclasses so callers can catch bad input uniformly."""

import re


class SurrogateNASError(ValueError):
    """Base class for every error raised on bad input."""


class InvalidArchitectureError(SurrogateNASError):
    """An architecture string/value does not belong to the search space."""


class DataError(SurrogateNASError):
    """A benchmark file or table is missing, malformed or inconsistent."""


class ChecksumError(DataError):
    """A downloaded or cached file does not match its expected sha256."""


def first_line(e: BaseException) -> str:
    """The first line of a third-party exception's message (ANSI colours stripped, at most 300 characters),
    for quoting it inside a one-line error of ours."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()
    return text.splitlines()[0][:300] if text else type(e).__name__
