<?php
declare(strict_types=1);

// Test double: a subset of Magento's customer data interface.
namespace Magento\Customer\Api\Data;

interface CustomerInterface
{
    /** @return int|null */
    public function getId();

    /** @return string */
    public function getEmail();

    /** @return string */
    public function getFirstname();

    /** @return string */
    public function getLastname();

    /** @return int|null */
    public function getStoreId();

    /** @return int|null */
    public function getWebsiteId();
}
