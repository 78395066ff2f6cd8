<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\Outbox;

use Magento\Framework\App\ResourceConnection;
use Magento\Framework\Exception\NoSuchEntityException;

/**
 * Reads and writes tillbridge_outbox on the default connection.
 *
 * Observers run inside the transaction that saves the order, customer or credit memo, so an
 * outbox row commits or rolls back with the change it describes.
 */
class OutboxRepository
{
    public const TABLE = 'tillbridge_outbox';

    public function __construct(private readonly ResourceConnection $resource)
    {
    }

    public function add(OutboxEvent $event): OutboxEvent
    {
        $connection = $this->resource->getConnection();
        $connection->insert($this->table(), $event->toRow());
        $event->id = (int) $connection->lastInsertId($this->table());
        return $event;
    }

    public function save(OutboxEvent $event): void
    {
        if ($event->id === null) {
            $this->add($event);
            return;
        }
        $this->resource->getConnection()->update($this->table(), $event->toRow(), ['entity_id = ?' => $event->id]);
    }

    /**
     * @throws NoSuchEntityException
     */
    public function getById(int $id): OutboxEvent
    {
        $row = $this->resource->getConnection()->fetchRow(
            'SELECT * FROM ' . $this->table() . ' WHERE entity_id = ?',
            [$id]
        );
        if (!$row) {
            throw new NoSuchEntityException(__('Tillbridge outbox row %1 does not exist.', $id));
        }
        return OutboxEvent::fromRow($row);
    }

    /**
     * Pending rows that are due, oldest first. A row waits while an older pending row for the same
     * entity is still backing off, so Tillbridge sees each entity's changes in order.
     *
     * @return list<OutboxEvent>
     */
    public function findDue(string $now, int $limit): array
    {
        $table = $this->table();
        $sql = "SELECT * FROM {$table} AS o"
            . " WHERE o.status = ? AND o.next_attempt_at <= ?"
            . " AND NOT EXISTS (SELECT 1 FROM {$table} AS w"
            . " WHERE w.status = ? AND w.entity_type = o.entity_type AND w.entity_ref = o.entity_ref"
            . " AND w.entity_id < o.entity_id AND w.next_attempt_at > ?)"
            . ' ORDER BY o.entity_id LIMIT ' . max(1, $limit);
        $rows = $this->resource->getConnection()->fetchAll(
            $sql,
            [OutboxEvent::STATUS_PENDING, $now, OutboxEvent::STATUS_PENDING, $now]
        );
        return array_map([OutboxEvent::class, 'fromRow'], $rows);
    }

    /**
     * Puts failed rows back in the queue with a fresh attempt budget; returns how many.
     *
     * @param list<int> $ids
     */
    public function requeueFailed(array $ids, string $now): int
    {
        if ($ids === []) {
            return 0;
        }
        return (int) $this->resource->getConnection()->update(
            $this->table(),
            ['status' => OutboxEvent::STATUS_PENDING, 'attempts' => 0, 'next_attempt_at' => $now],
            ['entity_id IN (?)' => array_map('intval', $ids), 'status = ?' => OutboxEvent::STATUS_FAILED]
        );
    }

    /** Deletes sent rows sent before $before; failed and pending rows are never deleted. */
    public function deleteSentBefore(string $before): int
    {
        return (int) $this->resource->getConnection()->delete(
            $this->table(),
            ['status = ?' => OutboxEvent::STATUS_SENT, 'sent_at < ?' => $before]
        );
    }

    /** @return array<string, int> row count per status */
    public function countByStatus(): array
    {
        $rows = $this->resource->getConnection()->fetchAll(
            'SELECT status, COUNT(*) AS n FROM ' . $this->table() . ' GROUP BY status'
        );
        $counts = [];
        foreach ($rows as $row) {
            $counts[(string) $row['status']] = (int) $row['n'];
        }
        return $counts;
    }

    private function table(): string
    {
        return $this->resource->getTableName(self::TABLE);
    }
}
