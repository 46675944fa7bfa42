"""chatkit-scaffold: generate and grow production-grade ChatKit backends."""

from __future__ import annotations

__version__ = "0.2.0"
