"""One place that decides which exceptions are the user's fault (exit 2, one line)."""

from hwmodel.errors import HardwareInputError
from models.errors import ModelInputError


class StudyInputError(ValueError):
    """Bad study file, CLI flag or output path; message is one line naming the field and the fix."""


USER_ERRORS: tuple[type[BaseException], ...] = (
    StudyInputError,
    ModelInputError,
    HardwareInputError,
)
