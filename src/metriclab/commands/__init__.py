"""Command front-ends: one module per command of ``scripts/``."""
