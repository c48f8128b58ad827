"""Continuum ingest service."""
