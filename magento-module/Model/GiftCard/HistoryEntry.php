<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\GiftCard;

use Tillbridge\Connector\Api\Data\GiftCardHistoryInterface;

class HistoryEntry implements GiftCardHistoryInterface
{
    public function __construct(
        private readonly int $id,
        private readonly string $code,
        private readonly string $action,
        private readonly float $balanceDelta,
        private readonly float $balanceAmount,
        private readonly string $updatedAt,
        private readonly ?string $idempotencyKey = null,
        private readonly ?string $reason = null
    ) {
    }

    public function getId(): int
    {
        return $this->id;
    }

    public function getCode(): string
    {
        return $this->code;
    }

    public function getAction(): string
    {
        return $this->action;
    }

    public function getBalanceDelta(): float
    {
        return $this->balanceDelta;
    }

    public function getBalanceAmount(): float
    {
        return $this->balanceAmount;
    }

    public function getUpdatedAt(): string
    {
        return $this->updatedAt;
    }

    public function getIdempotencyKey(): ?string
    {
        return $this->idempotencyKey;
    }

    public function getReason(): ?string
    {
        return $this->reason;
    }
}
