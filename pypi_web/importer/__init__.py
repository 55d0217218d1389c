"""Importing real package data: PyPI JSON API documents and installed distributions."""
