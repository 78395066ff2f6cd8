<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

use Magento\Catalog\Api\Data\ProductInterface;
use Magento\Customer\Api\Data\CustomerInterface;
use Magento\Framework\Model\AbstractModel;
use Magento\Sales\Api\Data\CreditmemoInterface;
use Magento\Sales\Api\Data\OrderInterface;
use Magento\Sales\Api\Data\OrderPaymentInterface;

class PaymentModel extends AbstractModel implements OrderPaymentInterface
{
    public function getMethod() { return $this->getData('method'); }
    public function getCcLast4() { return $this->getData('cc_last4'); }
    public function getCcNumberEnc() { return $this->getData('cc_number_enc'); }
}
