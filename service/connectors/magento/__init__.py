"""The Magento 2 / Adobe Commerce REST connector."""
