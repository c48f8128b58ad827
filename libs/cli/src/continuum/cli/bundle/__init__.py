"""Static deployment: a model version exported as a folder that scores files in batch.

:mod:`continuum.cli.bundle.export` writes the bundle; :mod:`continuum.cli.bundle.predict`
is the script copied into it (and what ``continuum export --check`` runs).
"""
