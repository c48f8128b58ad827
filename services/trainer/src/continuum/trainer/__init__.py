"""Continuum trainer service."""
