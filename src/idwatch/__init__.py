"""idwatch: find targeted account takeover by state-backed actors in identity-provider logs."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from idwatch.notebook import Session

__version__ = "0.1.0"


def open(store: str | os.PathLike[str] | None = None) -> Session:  # the notebook entry point, by design
    """Open a store for analysis in a notebook: ``s = idwatch.open("st"); s.campaigns().to_pandas()``."""
    from idwatch.notebook import open_store

    return open_store(store)
