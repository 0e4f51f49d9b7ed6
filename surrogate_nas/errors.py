"""Exception types. All are ``ValueError`` subclasses so callers can catch bad input uniformly."""


class SurrogateNASError(ValueError):
    """Base class for every error raised on bad input."""


class InvalidArchitectureError(SurrogateNASError):
    """An architecture string/value does not belong to the search space."""


class DataError(SurrogateNASError):
    """A benchmark file or table is missing, malformed or inconsistent."""


class ChecksumError(DataError):
    """A downloaded or cached file does not match its expected sha256."""
