<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\GiftCard;

use Magento\Framework\App\ResourceConnection;

/**
 * tillbridge_giftcard_adjustment: one row per idempotency key, written in the same transaction as
 * the balance change, so a key is applied at most once; history_id names the gift card history
 * row that change wrote.
 */
class AdjustmentLog
{
    public const TABLE = 'tillbridge_giftcard_adjustment';

    public function __construct(private readonly ResourceConnection $resource)
    {
    }

    /** @return array{code: string, amount: float, balance_after: float, created_at: string}|null */
    public function find(string $idempotencyKey): ?array
    {
        $row = $this->resource->getConnection()->fetchRow(
            'SELECT code, amount, balance_after, created_at FROM ' . $this->table() . ' WHERE idempotency_key = ?',
            [$idempotencyKey]
        );
        if (!$row) {
            return null;
        }
        return [
            'code' => (string) $row['code'],
            'amount' => (float) $row['amount'],
            'balance_after' => (float) $row['balance_after'],
            'created_at' => (string) $row['created_at'],
        ];
    }

    /**
     * Claims the key; a concurrent request with the same key waits on the unique index and then
     * fails with DuplicateException.
     */
    public function claim(string $idempotencyKey, string $code, float $amount, ?string $reason, string $now): void
    {
        $this->resource->getConnection()->insert($this->table(), [
            'idempotency_key' => $idempotencyKey,
            'code' => $code,
            'amount' => $amount,
            'reason' => $reason,
            'balance_after' => 0,
            'created_at' => $now,
        ]);
    }

    public function setBalanceAfter(string $idempotencyKey, float $balance): void
    {
        $this->resource->getConnection()->update(
            $this->table(),
            ['balance_after' => $balance],
            ['idempotency_key = ?' => $idempotencyKey]
        );
    }

    /** Links the key to the gift card history row its balance change wrote. */
    public function setHistoryId(string $idempotencyKey, ?int $historyId): void
    {
        $this->resource->getConnection()->update(
            $this->table(),
            ['history_id' => $historyId],
            ['idempotency_key = ?' => $idempotencyKey]
        );
    }

    /**
     * @param list<int> $historyIds
     * @return array<int, array{idempotency_key: string, reason: ?string}> by history id
     */
    public function byHistoryIds(array $historyIds): array
    {
        $ids = array_values(array_unique(array_map('intval', $historyIds)));
        if ($ids === []) {
            return [];
        }
        $rows = $this->resource->getConnection()->fetchAll(
            'SELECT history_id, idempotency_key, reason FROM ' . $this->table()
            . ' WHERE history_id IN (' . implode(',', array_fill(0, count($ids), '?')) . ')',
            $ids
        );
        $found = [];
        foreach ($rows as $row) {
            $found[(int) $row['history_id']] = [
                'idempotency_key' => (string) $row['idempotency_key'],
                'reason' => $row['reason'] === null ? null : (string) $row['reason'],
            ];
        }
        return $found;
    }

    /**
     * @template T
     * @param callable(): T $work
     * @return T
     */
    public function transaction(callable $work): mixed
    {
        $connection = $this->resource->getConnection();
        $connection->beginTransaction();
        try {
            $result = $work();
            $connection->commit();
            return $result;
        } catch (\Throwable $e) {
            $connection->rollBack();
            throw $e;
        }
    }

    private function table(): string
    {
        return $this->resource->getTableName(self::TABLE);
    }
}
