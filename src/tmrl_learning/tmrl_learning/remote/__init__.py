"""Policies served from another machine."""
