"""Faithful simulators of Heartland Retail and Magento 2, with fault injection."""
