"""Where the repository is, for files that ship with it (config, deploy)."""

from pathlib import Path

__all__ = [
    "ROOT",
]

ROOT = Path(__file__).resolve().parents[2]
