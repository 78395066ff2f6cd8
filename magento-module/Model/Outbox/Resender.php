<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\Outbox;

use Tillbridge\Connector\Model\Clock;
use Tillbridge\Connector\Model\Payload\EntityRenderer;

/**
 * The failed list's "resend": puts failed rows back in the queue with a fresh attempt budget. The
 * event keeps its ID, so Tillbridge still recognises it if an earlier attempt did arrive.
 */
class Resender
{
    public function __construct(
        private readonly OutboxRepository $repository,
        private readonly EntityRenderer $renderer,
        private readonly Clock $clock
    ) {
    }

    /**
     * @param list<int> $ids
     * @return int rows queued again
     */
    public function resend(array $ids): int
    {
        $now = $this->clock->format($this->clock->now());
        foreach ($ids as $id) {
            $event = $this->repository->getById((int) $id);
            if ($event->status === OutboxEvent::STATUS_FAILED && $event->payload === null) {
                // Rendering failed when the row was written; render the entity as it is now.
                $event->payload = PayloadJson::encode($this->renderer->byReference($event->entityType, $event->entityRef));
                $this->repository->save($event);
            }
        }
        return $this->repository->requeueFailed(array_map('intval', $ids), $now);
    }
}
