"""The base class for rule violations that views map back onto form fields."""


class DomainError(ValueError):
    """A business rule was broken. `field` names the form field the message belongs to."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field
