"""Commands: score (placeholder until its owner fills it)."""

from __future__ import annotations
