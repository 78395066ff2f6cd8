<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

use Magento\Catalog\Api\Data\ProductInterface;
use Magento\Customer\Api\Data\CustomerInterface;
use Magento\Framework\Model\AbstractModel;
use Magento\Sales\Api\Data\CreditmemoInterface;
use Magento\Sales\Api\Data\OrderInterface;
use Magento\Sales\Api\Data\OrderPaymentInterface;

class CreditmemoModel extends AbstractModel implements CreditmemoInterface
{
    public function getEntityId() { return $this->getData('entity_id'); }
    public function getOrderId() { return $this->getData('order_id'); }
    public function getStoreId() { return $this->getData('store_id'); }
    public function getGrandTotal() { return $this->getData('grand_total'); }
}
