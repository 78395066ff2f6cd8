<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\GiftCard;

use Tillbridge\Connector\Api\Data\GiftCardAccountInterface;

/**
 * Where gift card accounts live: Adobe Commerce's Magento_GiftCardAccount (AdobeAccountStore).
 */
interface AccountStoreInterface
{
    public function find(string $code): ?GiftCardAccountInterface;

    /**
     * @throws \Magento\Framework\Exception\InputException when the currency is not the website's
     */
    public function create(string $code, float $balance, ?string $currency): GiftCardAccountInterface;

    /**
     * Adds the signed amount under a row lock; runs inside the caller's transaction.
     *
     * @throws \Magento\Framework\Exception\InputException when the balance would go below zero
     */
    public function addToBalance(string $code, float $amount): GiftCardAccountInterface;
}
