<?php
declare(strict_types=1);

// Test double: the subset of Magento's interface that the module calls.
namespace Magento\Store\Model;

interface StoreManagerInterface
{
    /** @return \Magento\Store\Api\Data\StoreInterface */
    public function getStore($storeId = null);

    public function getDefaultStoreView();

    public function getWebsite($websiteId = null);
}
