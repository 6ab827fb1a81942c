"""Makes the shared builders in ``det_kit.py`` importable (pytest runs with importlib mode)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from det_kit import build  # noqa: E402,F401 - re-exported fixture
