<?php
declare(strict_types=1);

// Test double: a subset of Magento's order payment data interface.
namespace Magento\Sales\Api\Data;

interface OrderPaymentInterface
{
    /** @return string */
    public function getMethod();

    /** @return string|null */
    public function getCcLast4();

    /** @return string|null */
    public function getCcNumberEnc();
}
