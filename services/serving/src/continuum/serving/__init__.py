"""Continuum serving service."""
