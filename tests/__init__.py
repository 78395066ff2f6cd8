"""Tillbridge's tests: a regular package, so a site-packages "tests" another distribution ships cannot shadow it."""
