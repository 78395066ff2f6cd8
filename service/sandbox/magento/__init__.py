"""The magento sandbox."""
