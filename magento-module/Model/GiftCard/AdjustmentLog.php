<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\GiftCard;

use Magento\Framework\App\ResourceConnection;

/**
 * tillbridge_giftcard_adjustment: one row per idempotency key, written in the same transaction as
 * the balance change, so a key is applied at most once.
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
