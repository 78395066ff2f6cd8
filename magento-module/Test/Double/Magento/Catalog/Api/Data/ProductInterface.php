<?php
declare(strict_types=1);

// Test double: a subset of Magento's product data interface.
namespace Magento\Catalog\Api\Data;

interface ProductInterface
{
    /** @return int|null */
    public function getId();

    /** @return string */
    public function getSku();

    /** @return string|null */
    public function getName();

    /** @return float|null */
    public function getPrice();

    /** @return int|null */
    public function getStatus();
}
