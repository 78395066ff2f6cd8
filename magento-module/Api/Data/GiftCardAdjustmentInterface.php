<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Api\Data;

/**
 * A signed balance change. The same idempotency key applies it once; repeating the request
 * returns the account without changing it again.
 *
 * @api
 */
interface GiftCardAdjustmentInterface
{
    /**
     * @return float
     */
    public function getAmount(): float;

    /**
     * @param float $amount
     * @return $this
     */
    public function setAmount(float $amount): self;

    /**
     * @return string
     */
    public function getIdempotencyKey(): string;

    /**
     * @param string $idempotencyKey
     * @return $this
     */
    public function setIdempotencyKey(string $idempotencyKey): self;

    /**
     * @return string|null
     */
    public function getReason(): ?string;

    /**
     * @param string|null $reason
     * @return $this
     */
    public function setReason(?string $reason): self;
}
