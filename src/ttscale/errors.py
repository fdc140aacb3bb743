"""Errors that a user can act on: each names the file, key or value at fault."""


class TtscaleError(Exception):
    """Base class; the message is meant for the user, without a traceback."""


class ConfigError(TtscaleError):
    """The config fails its schema or names something that does not exist."""


class DataError(TtscaleError):
    """A file has the wrong columns, wrong counts or cannot be loaded."""
