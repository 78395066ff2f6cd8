<?php
declare(strict_types=1);

// Test double: the subset of Magento's product repository that the module calls.
namespace Magento\Catalog\Api;

interface ProductRepositoryInterface
{
    /**
     * @param string $sku
     * @param bool $editMode
     * @param int|null $storeId
     * @param bool $forceReload
     * @return \Magento\Catalog\Api\Data\ProductInterface
     */
    public function get($sku, $editMode = false, $storeId = null, $forceReload = false);

    /**
     * @param int $productId
     * @param bool $editMode
     * @param int|null $storeId
     * @param bool $forceReload
     * @return \Magento\Catalog\Api\Data\ProductInterface
     */
    public function getById($productId, $editMode = false, $storeId = null, $forceReload = false);
}
