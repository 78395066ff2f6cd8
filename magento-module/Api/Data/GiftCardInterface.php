<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Api\Data;

/**
 * A gift card account, shaped like Adobe Commerce SaaS's giftcardAccount. The same object is sent
 * to create a card (code and balance required) and returned by every route.
 *
 * @api
 */
interface GiftCardInterface
{
    public const STATUS_DISABLED = 0;
    public const STATUS_ENABLED = 1;
    public const STATE_AVAILABLE = 0;
    public const STATE_USED = 1;
    public const STATE_REDEEMED = 2;
    public const STATE_EXPIRED = 3;

    /**
     * @return int|null
     */
    public function getId(): ?int;

    /**
     * @param int|null $id
     * @return $this
     */
    public function setId(?int $id): self;

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
     * ISO 4217 code of the website's base currency.
     *
     * @return string|null
     */
    public function getCurrencyCode(): ?string;

    /**
     * @param string|null $currencyCode
     * @return $this
     */
    public function setCurrencyCode(?string $currencyCode): self;

    /**
     * 1 enabled, 0 disabled.
     *
     * @return int|null
     */
    public function getStatus(): ?int;

    /**
     * @param int|null $status
     * @return $this
     */
    public function setStatus(?int $status): self;

    /**
     * 0 available, 1 used, 2 redeemed, 3 expired.
     *
     * @return int|null
     */
    public function getState(): ?int;

    /**
     * @param int|null $state
     * @return $this
     */
    public function setState(?int $state): self;

    /**
     * @return bool|null
     */
    public function getIsRedeemable(): ?bool;

    /**
     * @param bool|null $isRedeemable
     * @return $this
     */
    public function setIsRedeemable(?bool $isRedeemable): self;

    /**
     * Y-m-d, or null for no expiry.
     *
     * @return string|null
     */
    public function getDateExpires(): ?string;

    /**
     * @param string|null $dateExpires
     * @return $this
     */
    public function setDateExpires(?string $dateExpires): self;

    /**
     * @return int|null
     */
    public function getWebsiteId(): ?int;

    /**
     * @param int|null $websiteId
     * @return $this
     */
    public function setWebsiteId(?int $websiteId): self;

    /**
     * Y-m-d H:i:s UTC.
     *
     * @return string|null
     */
    public function getCreatedAt(): ?string;

    /**
     * @param string|null $createdAt
     * @return $this
     */
    public function setCreatedAt(?string $createdAt): self;

    /**
     * Y-m-d H:i:s UTC.
     *
     * @return string|null
     */
    public function getUpdatedAt(): ?string;

    /**
     * @param string|null $updatedAt
     * @return $this
     */
    public function setUpdatedAt(?string $updatedAt): self;
}
