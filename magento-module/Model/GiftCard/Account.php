<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\GiftCard;

use Tillbridge\Connector\Api\Data\GiftCardAccountInterface;

final class Account implements GiftCardAccountInterface
{
    public function __construct(
        private readonly string $code,
        private readonly float $balance,
        private readonly string $currency,
        private readonly string $status,
        private readonly string $updatedAt
    ) {
    }

    public function getCode(): string
    {
        return $this->code;
    }

    public function getBalance(): float
    {
        return $this->balance;
    }

    public function getCurrency(): string
    {
        return $this->currency;
    }

    public function getStatus(): string
    {
        return $this->status;
    }

    public function getUpdatedAt(): string
    {
        return $this->updatedAt;
    }
}
