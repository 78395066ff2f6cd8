<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Observer;

use Magento\Customer\Api\Data\CustomerInterface;
use Magento\Framework\Event\Observer;
use Magento\Framework\Event\ObserverInterface;
use Tillbridge\Connector\Model\Outbox\EventName;
use Tillbridge\Connector\Model\Outbox\Writer;
use Tillbridge\Connector\Model\Payload\EntityRenderer;

/**
 * customer_save_after_data_object: the customer repository saved a customer (storefront
 * registration, account edit, admin, REST). No original data object means it was just created.
 */
class CustomerSaved implements ObserverInterface
{
    public function __construct(
        private readonly Writer $writer,
        private readonly EntityRenderer $renderer
    ) {
    }

    public function execute(Observer $observer): void
    {
        $event = $observer->getEvent();
        $customer = $event->getData('customer_data_object');
        if (!$customer instanceof CustomerInterface || !$customer->getId()) {
            return;
        }
        $created = !$event->getData('orig_customer_data_object') instanceof CustomerInterface;
        $this->writer->record(
            $created ? EventName::CUSTOMER_CREATED : EventName::CUSTOMER_UPDATED,
            EntityRenderer::CUSTOMER,
            (string) $customer->getId(),
            (int) $customer->getStoreId(),
            fn (): array => $this->renderer->customer($customer)
        );
    }
}
