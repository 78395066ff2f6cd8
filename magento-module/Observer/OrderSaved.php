<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Observer;

use Magento\Framework\Event\Observer;
use Magento\Framework\Event\ObserverInterface;
use Magento\Framework\Model\AbstractModel;
use Magento\Sales\Api\Data\OrderInterface;
use Tillbridge\Connector\Model\Outbox\EventName;
use Tillbridge\Connector\Model\Outbox\Writer;
use Tillbridge\Connector\Model\Payload\EntityRenderer;

/**
 * sales_order_save_commit_after: an existing order changed (status, state, comment, invoice,
 * shipment, cancel), from any channel, after the transaction committed.
 */
class OrderSaved implements ObserverInterface
{
    public function __construct(
        private readonly Writer $writer,
        private readonly EntityRenderer $renderer
    ) {
    }

    public function execute(Observer $observer): void
    {
        $order = $observer->getEvent()->getData('order');
        if (!$order instanceof OrderInterface || !$order->getEntityId()) {
            return;
        }
        // An order never loaded from the database in this request is being created; checkout's
        // order.created event describes it once it is complete.
        if ($order instanceof AbstractModel && $order->getOrigData('entity_id') === null) {
            return;
        }
        $orderId = (int) $order->getEntityId();
        $this->writer->record(
            EventName::ORDER_UPDATED,
            EntityRenderer::ORDER,
            (string) $orderId,
            (int) $order->getStoreId(),
            fn (): array => $this->renderer->order($orderId)
        );
    }
}
