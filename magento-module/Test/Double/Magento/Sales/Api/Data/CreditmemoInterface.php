<?php
declare(strict_types=1);

// Test double: a subset of Magento's credit memo data interface.
namespace Magento\Sales\Api\Data;

interface CreditmemoInterface
{
    /** @return int|null */
    public function getEntityId();

    /** @return int|null */
    public function getOrderId();

    /** @return int|null */
    public function getStoreId();

    /** @return float|null */
    public function getGrandTotal();
}
