<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

use Magento\Catalog\Api\Data\ProductInterface;
use Magento\Customer\Api\Data\CustomerInterface;
use Magento\Framework\Model\AbstractModel;
use Magento\Sales\Api\Data\CreditmemoInterface;
use Magento\Sales\Api\Data\OrderInterface;
use Magento\Sales\Api\Data\OrderPaymentInterface;

class ProductModel extends AbstractModel implements ProductInterface
{
    public function getSku() { return $this->getData('sku'); }
    public function getName() { return $this->getData('name'); }
    public function getPrice() { return $this->getData('price'); }
    public function getStatus() { return $this->getData('status'); }
    public function getStoreId() { return $this->getData('store_id'); }
}
