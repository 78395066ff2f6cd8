<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Api\Data;

/**
 * A gift card account as the routes return it.
 *
 * @api
 */
interface GiftCardAccountInterface
{
    public const STATUS_ACTIVE = 'active';
    public const STATUS_DISABLED = 'disabled';
    public const STATUS_USED = 'used';
    public const STATUS_REDEEMED = 'redeemed';
    public const STATUS_EXPIRED = 'expired';

    /**
     * @return string
     */
    public function getCode(): string;

    /**
     * @return float
     */
    public function getBalance(): float;

    /**
     * @return string
     */
    public function getCurrency(): string;

    /**
     * One of active, disabled, used, redeemed, expired.
     *
     * @return string
     */
    public function getStatus(): string;

    /**
     * ISO-8601 date-time in UTC.
     *
     * @return string
     */
    public function getUpdatedAt(): string;
}
