"""Continuum localkafka library."""
