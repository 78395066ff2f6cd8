<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\GiftCard;

use Magento\Framework\Api\SearchCriteriaInterface;
use Tillbridge\Connector\Api\Data\GiftCardInterface;
use Tillbridge\Connector\Api\Data\GiftCardSearchResultsInterface;

/**
 * Where gift card accounts live: Adobe Commerce's Magento_GiftCardAccount (AdobeAccountStore).
 */
interface AccountStoreInterface
{
    public function find(string $code): ?GiftCardInterface;

    /**
     * @throws \Magento\Framework\Exception\InputException when the currency is not the website's
     */
    public function create(GiftCardInterface $card): GiftCardInterface;

    /**
     * Adds the signed amount under a row lock; runs inside the caller's transaction.
     *
     * @throws \Magento\Framework\Exception\InputException when the balance would go below zero
     */
    public function addToBalance(string $code, float $amount): GiftCardInterface;

    public function search(SearchCriteriaInterface $criteria): GiftCardSearchResultsInterface;
}
