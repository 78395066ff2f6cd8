<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\GiftCard;

use Tillbridge\Connector\Api\Data\GiftCardInterface;

class GiftCard implements GiftCardInterface
{
    private string $code = '';
    private float $balance = 0.0;
    private ?string $currency = null;

    public function getCode(): string
    {
        return $this->code;
    }

    public function setCode(string $code): self
    {
        $this->code = $code;
        return $this;
    }

    public function getBalance(): float
    {
        return $this->balance;
    }

    public function setBalance(float $balance): self
    {
        $this->balance = $balance;
        return $this;
    }

    public function getCurrency(): ?string
    {
        return $this->currency;
    }

    public function setCurrency(?string $currency): self
    {
        $this->currency = $currency;
        return $this;
    }
}
