"""idwatch: find targeted account takeover by state-backed actors in identity-provider logs."""

__version__ = "0.1.0"
