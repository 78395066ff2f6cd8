<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\Outbox;

/**
 * The request body Tillbridge expects: {"event", "occurred_at", "store_code", "data"}.
 */
final class Envelope
{
    public static function body(OutboxEvent $event): string
    {
        if ($event->payload === null) {
            throw new \InvalidArgumentException(sprintf('outbox row %s has no rendered entity', (string) $event->id));
        }
        $occurredAt = \DateTimeImmutable::createFromFormat('Y-m-d H:i:s', $event->occurredAt, new \DateTimeZone('UTC'));
        if ($occurredAt === false) {
            throw new \InvalidArgumentException(sprintf('outbox row %s has a bad occurred_at %s', (string) $event->id, $event->occurredAt));
        }
        // The stored payload is spliced in verbatim so the signed bytes are the rendered bytes.
        return '{"event":' . json_encode($event->eventName, PayloadJson::FLAGS)
            . ',"occurred_at":' . json_encode($occurredAt->format(DATE_ATOM), PayloadJson::FLAGS)
            . ',"store_code":' . json_encode($event->storeCode, PayloadJson::FLAGS)
            . ',"data":' . $event->payload
            . '}';
    }
}
