"""vigil: an autonomous operations engine (watch, detect, predict, respond, heal, show)."""

__version__ = "0.1.0"
