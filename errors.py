"""The base of every error a user can cause (bad program, bad artifact, bad
option). The CLI prints these as one clear message and exits 2; anything else
is a bug and keeps its traceback."""


class UserError(Exception):
    """Bad user input; str(error) is the whole message to print."""


class ArtifactError(UserError):
    """A file that is not a readable superpose artifact."""


class OutputError(UserError):
    """An output that cannot be written: the path, and the reason the OS gave."""
