"""Errors that mean "the user's input is wrong", as opposed to a bug."""


class HardwareInputError(ValueError):
    """Bad input to the hardware model (unknown part, zero PEs); message is one line."""
