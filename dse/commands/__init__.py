"""CLI command groups; each module registers its commands on the shared Typer app."""
