<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\GiftCard;

use Tillbridge\Connector\Api\Data\GiftCardAdjustmentInterface;

class Adjustment implements GiftCardAdjustmentInterface
{
    private float $amount = 0.0;
    private string $idempotencyKey = '';
    private ?string $reason = null;

    public function getAmount(): float
    {
        return $this->amount;
    }

    public function setAmount(float $amount): self
    {
        $this->amount = $amount;
        return $this;
    }

    public function getIdempotencyKey(): string
    {
        return $this->idempotencyKey;
    }

    public function setIdempotencyKey(string $idempotencyKey): self
    {
        $this->idempotencyKey = $idempotencyKey;
        return $this;
    }

    public function getReason(): ?string
    {
        return $this->reason;
    }

    public function setReason(?string $reason): self
    {
        $this->reason = $reason;
        return $this;
    }
}
