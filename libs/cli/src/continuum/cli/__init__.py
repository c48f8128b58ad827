"""Continuum cli library."""
