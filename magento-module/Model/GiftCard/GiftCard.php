<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\GiftCard;

use Tillbridge\Connector\Api\Data\GiftCardInterface;

class GiftCard implements GiftCardInterface
{
    private ?int $id = null;
    private string $code = '';
    private float $balance = 0.0;
    private ?string $currencyCode = null;
    private ?int $status = null;
    private ?int $state = null;
    private ?bool $isRedeemable = null;
    private ?string $dateExpires = null;
    private ?int $websiteId = null;
    private ?string $createdAt = null;
    private ?string $updatedAt = null;

    public function getId(): ?int
    {
        return $this->id;
    }

    public function setId(?int $id): self
    {
        $this->id = $id;
        return $this;
    }

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

    public function getCurrencyCode(): ?string
    {
        return $this->currencyCode;
    }

    public function setCurrencyCode(?string $currencyCode): self
    {
        $this->currencyCode = $currencyCode;
        return $this;
    }

    public function getStatus(): ?int
    {
        return $this->status;
    }

    public function setStatus(?int $status): self
    {
        $this->status = $status;
        return $this;
    }

    public function getState(): ?int
    {
        return $this->state;
    }

    public function setState(?int $state): self
    {
        $this->state = $state;
        return $this;
    }

    public function getIsRedeemable(): ?bool
    {
        return $this->isRedeemable;
    }

    public function setIsRedeemable(?bool $isRedeemable): self
    {
        $this->isRedeemable = $isRedeemable;
        return $this;
    }

    public function getDateExpires(): ?string
    {
        return $this->dateExpires;
    }

    public function setDateExpires(?string $dateExpires): self
    {
        $this->dateExpires = $dateExpires;
        return $this;
    }

    public function getWebsiteId(): ?int
    {
        return $this->websiteId;
    }

    public function setWebsiteId(?int $websiteId): self
    {
        $this->websiteId = $websiteId;
        return $this;
    }

    public function getCreatedAt(): ?string
    {
        return $this->createdAt;
    }

    public function setCreatedAt(?string $createdAt): self
    {
        $this->createdAt = $createdAt;
        return $this;
    }

    public function getUpdatedAt(): ?string
    {
        return $this->updatedAt;
    }

    public function setUpdatedAt(?string $updatedAt): self
    {
        $this->updatedAt = $updatedAt;
        return $this;
    }
}
