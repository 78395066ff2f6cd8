<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\Outbox;

use Magento\Store\Model\StoreManagerInterface;
use Psr\Log\LoggerInterface;
use Throwable;
use Tillbridge\Connector\Model\Clock;
use Tillbridge\Connector\Model\Config;
use Tillbridge\Connector\Model\LoopGuard;

/**
 * Writes one event to the outbox. Called from observers, so it never calls HTTP and never throws:
 * a problem here must not stop a customer's checkout or an admin's save.
 */
class Writer
{
    public function __construct(
        private readonly OutboxRepository $repository,
        private readonly Config $config,
        private readonly LoopGuard $loopGuard,
        private readonly EventIdGenerator $eventIds,
        private readonly Clock $clock,
        private readonly StoreManagerInterface $storeManager,
        private readonly LoggerInterface $logger
    ) {
    }

    /**
     * @param callable(): array<string, mixed> $render the entity as the REST API returns it
     * @return OutboxEvent|null the row written, or null when the event is not to be sent
     */
    public function record(
        string $eventName,
        string $entityType,
        string $entityRef,
        int $storeId,
        callable $render
    ): ?OutboxEvent {
        try {
            if (!$this->config->isEnabled() || !$this->config->isEventEnabled($eventName)) {
                return null;
            }
            if ($this->loopGuard->isOwnChange()) {
                return null;
            }
            $now = $this->clock->format($this->clock->now());
            $event = new OutboxEvent(
                null,
                $this->eventIds->generate(),
                $eventName,
                $entityType,
                $entityRef,
                $this->storeCode($storeId),
                null,
                $now,
                OutboxEvent::STATUS_PENDING,
                0,
                $now
            );
            try {
                $event->payload = PayloadJson::encode($render());
            } catch (Throwable $e) {
                // Kept as failed rather than dropped: the failed list shows it and "resend" renders it again.
                $event->status = OutboxEvent::STATUS_FAILED;
                $event->nextAttemptAt = null;
                $event->lastError = sprintf(
                    'Could not render %s %s as the REST API does: %s. Fix the cause, then resend it from '
                    . 'System › Tillbridge › Failed events.',
                    $entityType,
                    $entityRef,
                    $e->getMessage()
                );
            }
            return $this->repository->add($event);
        } catch (Throwable $e) {
            $this->logger->critical(
                sprintf('Tillbridge: %s for %s %s was not written to the outbox: %s', $eventName, $entityType, $entityRef, $e->getMessage()),
                ['exception' => $e]
            );
            return null;
        }
    }

    private function storeCode(int $storeId): string
    {
        return (string) $this->storeManager->getStore($storeId)->getCode();
    }
}
