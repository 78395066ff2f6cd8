<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

use Magento\Catalog\Api\Data\ProductInterface;
use Magento\Customer\Api\Data\CustomerInterface;
use Magento\Framework\Model\AbstractModel;
use Magento\Sales\Api\Data\CreditmemoInterface;
use Magento\Sales\Api\Data\OrderInterface;
use Magento\Sales\Api\Data\OrderPaymentInterface;

class OrderModel extends AbstractModel implements OrderInterface
{
    public function getEntityId() { return $this->getData('entity_id'); }
    public function getIncrementId() { return $this->getData('increment_id'); }
    public function getStoreId() { return $this->getData('store_id'); }
    public function getState() { return $this->getData('state'); }
    public function getStatus() { return $this->getData('status'); }
    public function getGrandTotal() { return $this->getData('grand_total'); }
    public function getCustomerEmail() { return $this->getData('customer_email'); }
    public function getPayment() { return $this->getData('payment'); }
}
