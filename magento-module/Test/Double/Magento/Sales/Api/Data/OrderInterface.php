<?php
declare(strict_types=1);

// Test double: a subset of Magento's order data interface (enough to render an order).
namespace Magento\Sales\Api\Data;

interface OrderInterface
{
    /** @return int|null */
    public function getEntityId();

    /** @return string|null */
    public function getIncrementId();

    /** @return int|null */
    public function getStoreId();

    /** @return string|null */
    public function getState();

    /** @return string|null */
    public function getStatus();

    /** @return float|null */
    public function getGrandTotal();

    /** @return string|null */
    public function getCustomerEmail();

    /** @return \Magento\Sales\Api\Data\OrderPaymentInterface|null */
    public function getPayment();
}
