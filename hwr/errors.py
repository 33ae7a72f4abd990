"""Errors a user can act on: steps print their message and exit non-zero, without a traceback."""


class HwrError(Exception):
    """Base class for every error whose message is meant for the user."""


class InvalidImageError(HwrError):
    """An input could not be read as an image the model can use."""


class DataError(HwrError):
    """A data set is missing, malformed, or fails verification."""
