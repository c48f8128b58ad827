"""Prequential quality benchmark: when to retrain, measured on drifting streams."""
