<?php
declare(strict_types=1);

// Test double: the subset of Magento's customer repository that the module calls.
namespace Magento\Customer\Api;

interface CustomerRepositoryInterface
{
    /**
     * @param int $customerId
     * @return \Magento\Customer\Api\Data\CustomerInterface
     */
    public function getById($customerId);
}
