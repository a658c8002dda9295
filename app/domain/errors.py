"""Domain errors carry a French message meant for the user, and the field it is about."""


class DomainError(Exception):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ConflictError(DomainError):
    """Someone else saved the same thing first (HTTP 409)."""
