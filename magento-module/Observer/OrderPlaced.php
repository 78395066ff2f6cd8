<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Observer;

use Magento\Framework\Event\Observer;
use Magento\Framework\Event\ObserverInterface;
use Magento\Sales\Api\Data\OrderInterface;
use Tillbridge\Connector\Model\Outbox\EventName;
use Tillbridge\Connector\Model\Outbox\Writer;
use Tillbridge\Connector\Model\Payload\EntityRenderer;

/**
 * checkout_submit_all_after: an order was placed (storefront, admin, REST or GraphQL checkout).
 * Multishipping dispatches it once with all its orders under "orders".
 */
class OrderPlaced implements ObserverInterface
{
    public function __construct(
        private readonly Writer $writer,
        private readonly EntityRenderer $renderer
    ) {
    }

    public function execute(Observer $observer): void
    {
        $event = $observer->getEvent();
        $orders = $event->getData('orders');
        if (!is_array($orders)) {
            $orders = [$event->getData('order')];
        }
        foreach ($orders as $order) {
            if (!$order instanceof OrderInterface || !$order->getEntityId()) {
                continue;
            }
            $orderId = (int) $order->getEntityId();
            $this->writer->record(
                EventName::ORDER_CREATED,
                EntityRenderer::ORDER,
                (string) $orderId,
                (int) $order->getStoreId(),
                fn (): array => $this->renderer->order($orderId)
            );
        }
    }
}
