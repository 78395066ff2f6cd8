<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Api\Data;

/**
 * One balance change of a gift card account, as Magento_GiftCardAccount's history records it
 * (checkout use, admin edit, an adjustment through Tillbridge's route…). Those applied through
 * POST /V1/tillbridge/giftcards/:code/adjustments carry their idempotency key and reason, so a
 * caller can tell its own changes from the store's.
 *
 * @api
 */
interface GiftCardHistoryInterface
{
    public const ACTIONS = ['created', 'used', 'sent', 'redeemed', 'expired', 'updated'];

    /**
     * The history row's id: it grows with every balance change.
     *
     * @return int
     */
    public function getId(): int;

    /**
     * @return string
     */
    public function getCode(): string;

    /**
     * created, used, sent, redeemed, expired or updated.
     *
     * @return string
     */
    public function getAction(): string;

    /**
     * @return float
     */
    public function getBalanceDelta(): float;

    /**
     * The balance after this change.
     *
     * @return float
     */
    public function getBalanceAmount(): float;

    /**
     * Y-m-d H:i:s UTC.
     *
     * @return string
     */
    public function getUpdatedAt(): string;

    /**
     * @return string|null
     */
    public function getIdempotencyKey(): ?string;

    /**
     * @return string|null
     */
    public function getReason(): ?string;
}
