"""Continuum monitor service."""
