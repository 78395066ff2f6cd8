<?php
declare(strict_types=1);

// Test double: the subset of Magento's interface that the module calls.
namespace Magento\Store\Api\Data;

interface StoreInterface
{
    public function getId();

    public function getCode();

    public function getWebsiteId();
}
