<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\Outbox;

/**
 * One row of the tillbridge_outbox table.
 */
final class OutboxEvent
{
    public const STATUS_PENDING = 'pending';
    public const STATUS_SENT = 'sent';
    public const STATUS_FAILED = 'failed';

    public function __construct(
        public ?int $id,
        public readonly string $eventId,
        public readonly string $eventName,
        public readonly string $entityType,
        public readonly string $entityRef,
        public readonly string $storeCode,
        public ?string $payload,
        public readonly string $occurredAt,
        public string $status = self::STATUS_PENDING,
        public int $attempts = 0,
        public ?string $nextAttemptAt = null,
        public ?string $lastError = null,
        public ?int $lastHttpStatus = null,
        public ?string $sentAt = null
    ) {
    }

    /** @param array<string, mixed> $row */
    public static function fromRow(array $row): self
    {
        return new self(
            (int) $row['entity_id'],
            (string) $row['event_id'],
            (string) $row['event_name'],
            (string) $row['entity_type'],
            (string) $row['entity_ref'],
            (string) $row['store_code'],
            $row['payload'] === null ? null : (string) $row['payload'],
            (string) $row['occurred_at'],
            (string) $row['status'],
            (int) $row['attempts'],
            $row['next_attempt_at'] === null ? null : (string) $row['next_attempt_at'],
            $row['last_error'] === null ? null : (string) $row['last_error'],
            $row['last_http_status'] === null ? null : (int) $row['last_http_status'],
            $row['sent_at'] === null ? null : (string) $row['sent_at']
        );
    }

    /** @return array<string, mixed> the columns, without the row ID */
    public function toRow(): array
    {
        return [
            'event_id' => $this->eventId,
            'event_name' => $this->eventName,
            'entity_type' => $this->entityType,
            'entity_ref' => $this->entityRef,
            'store_code' => $this->storeCode,
            'payload' => $this->payload,
            'occurred_at' => $this->occurredAt,
            'status' => $this->status,
            'attempts' => $this->attempts,
            'next_attempt_at' => $this->nextAttemptAt,
            'last_error' => $this->lastError,
            'last_http_status' => $this->lastHttpStatus,
            'sent_at' => $this->sentAt,
        ];
    }
}
