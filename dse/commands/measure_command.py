"""Placeholder until the owning issue lands; replaced by the real commands."""

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `dse` app."""
