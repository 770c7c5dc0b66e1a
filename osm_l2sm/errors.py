"""The one exception type every box raises for a user-facing failure.

The CLI prints its message on one line and exits non-zero; REST layers map ``status`` to an HTTP code.
"""


class L2smError(Exception):
    """A failure the user can act on; ``str(err)`` is one readable line."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
