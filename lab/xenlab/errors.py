"""Errors the lab reports to its user: each says what went wrong and what fixes it."""


class LabError(Exception):
    """A failure with a message meant for the person running the lab."""

    def __init__(self, message, fix=None):
        super().__init__(message)
        self.fix = fix

    def __str__(self):
        text = super().__str__()
        return f"{text}\n  fix: {self.fix}" if self.fix else text
