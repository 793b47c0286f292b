"""mldebt: find the hidden technical debt of machine-learning code (Sculley et al., 2015)."""

from __future__ import annotations

__version__ = "0.1.0"
