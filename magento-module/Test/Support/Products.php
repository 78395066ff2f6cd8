<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

use Magento\Catalog\Api\ProductRepositoryInterface;
use Magento\Customer\Api\CustomerRepositoryInterface;
use Magento\Framework\Exception\NoSuchEntityException;
use Magento\Sales\Api\CreditmemoRepositoryInterface;
use Magento\Sales\Api\OrderRepositoryInterface;

final class Products implements ProductRepositoryInterface
{
    /** @var array<int, ProductModel> */
    public array $byId = [];

    public function get($sku, $editMode = false, $storeId = null, $forceReload = false)
    {
        foreach ($this->byId as $product) {
            if ($product->getSku() === $sku) {
                return $product;
            }
        }
        throw new NoSuchEntityException(__('The product that was requested doesn\'t exist. Verify the product and try again.'));
    }

    public function getById($productId, $editMode = false, $storeId = null, $forceReload = false)
    {
        return $this->byId[(int) $productId] ?? throw new NoSuchEntityException(__('The product that was requested doesn\'t exist. Verify the product and try again.'));
    }
}
