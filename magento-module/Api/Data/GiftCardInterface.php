<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Api\Data;

/**
 * A gift card account to create.
 *
 * @api
 */
interface GiftCardInterface
{
    /**
     * @return string
     */
    public function getCode(): string;

    /**
     * @param string $code
     * @return $this
     */
    public function setCode(string $code): self;

    /**
     * @return float
     */
    public function getBalance(): float;

    /**
     * @param float $balance
     * @return $this
     */
    public function setBalance(float $balance): self;

    /**
     * ISO 4217 code; must equal the website's base currency. Null means that currency.
     *
     * @return string|null
     */
    public function getCurrency(): ?string;

    /**
     * @param string|null $currency
     * @return $this
     */
    public function setCurrency(?string $currency): self;
}
