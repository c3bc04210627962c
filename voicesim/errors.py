"""The one exception type the CLI turns into a single clear line."""


class VoicesimError(Exception):
    """A problem the user can fix; the message says what is wrong and how to fix it.

    The CLI prints ``voicesim: error: <message>`` on one line and exits with
    :attr:`exit_code`, never a traceback.
    """

    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
