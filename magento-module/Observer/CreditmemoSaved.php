<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Observer;

use Magento\Framework\Event\Observer;
use Magento\Framework\Event\ObserverInterface;
use Magento\Framework\Model\AbstractModel;
use Magento\Sales\Api\Data\CreditmemoInterface;
use Tillbridge\Connector\Model\Outbox\EventName;
use Tillbridge\Connector\Model\Outbox\Writer;
use Tillbridge\Connector\Model\Payload\EntityRenderer;

/**
 * sales_order_creditmemo_save_after: a credit memo was created (admin or REST refund). Runs inside
 * the refund's transaction, so the outbox row rolls back with a failed refund.
 */
class CreditmemoSaved implements ObserverInterface
{
    /** @var array<int, true> credit memos recorded in this request (observers are shared instances) */
    private array $recorded = [];

    public function __construct(
        private readonly Writer $writer,
        private readonly EntityRenderer $renderer
    ) {
    }

    public function execute(Observer $observer): void
    {
        $event = $observer->getEvent();
        $creditmemo = $event->getData('creditmemo') ?? $event->getData('data_object');
        if (!$creditmemo instanceof CreditmemoInterface || !$creditmemo->getEntityId()) {
            return;
        }
        // Later saves of a loaded credit memo (state or comment changes) are not new refunds.
        if ($creditmemo instanceof AbstractModel && $creditmemo->getOrigData('entity_id') !== null) {
            return;
        }
        // A payment integration may save the new credit memo again before the request ends.
        $id = (int) $creditmemo->getEntityId();
        if (isset($this->recorded[$id])) {
            return;
        }
        $this->recorded[$id] = true;
        $this->writer->record(
            EventName::CREDITMEMO_CREATED,
            EntityRenderer::CREDITMEMO,
            (string) $id,
            (int) $creditmemo->getStoreId(),
            fn (): array => $this->renderer->creditmemo($creditmemo)
        );
    }
}
