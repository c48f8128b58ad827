"""Builds, trains, scores, saves and securely loads scikit-learn pipelines from a spec."""
