"""Continuum registry service."""
