"""Errors that the command line turns into a clear message and a non-zero exit code."""


class KuzetError(Exception):
    """Base class: the message says what is wrong and where."""


class ConfigError(KuzetError):
    """A config file is missing, unreadable or invalid (the message names the file and key)."""


class ModelError(KuzetError):
    """A model file is missing, corrupt, or has an unexpected input shape."""


class SourceError(KuzetError):
    """A frame source cannot be opened or has stopped delivering frames."""
