"""Errors a user can cause (missing corpus, bad layout, bad config): reported as one line."""


class UserError(Exception):
    """An error the user can fix; the CLI prints its message as one line and exits 1."""
