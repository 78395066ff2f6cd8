"""Adapters that talk to one API each and know nothing about the other system."""
