"""Errors that mean "the user's input is wrong", as opposed to a bug."""


class ModelInputError(ValueError):
    """Bad input to the model side (missing dataset, impossible setting); message is one line."""
