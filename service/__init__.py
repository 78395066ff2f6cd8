"""Tillbridge: keeps a Heartland Retail store and a Magento 2 shop in step."""

__version__ = "0.1.0"
