<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

use Magento\Catalog\Api\Data\ProductInterface;
use Magento\Customer\Api\Data\CustomerInterface;
use Magento\Framework\Model\AbstractModel;
use Magento\Sales\Api\Data\CreditmemoInterface;
use Magento\Sales\Api\Data\OrderInterface;
use Magento\Sales\Api\Data\OrderPaymentInterface;

class CustomerData extends \Magento\Framework\DataObject implements CustomerInterface
{
    public function getId() { return $this->getData('id'); }
    public function getEmail() { return $this->getData('email'); }
    public function getFirstname() { return $this->getData('firstname'); }
    public function getLastname() { return $this->getData('lastname'); }
    public function getStoreId() { return $this->getData('store_id'); }
    public function getWebsiteId() { return $this->getData('website_id'); }
}
