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

    /**
     * Balance changes from the gift card account history, oldest first: history id above
     * $afterId, of one card when $code is given, at or after $since (Y-m-d H:i:s UTC) when given.
     *
     * @return list<array{id: int, code: string, action: string, balance_delta: float, balance_amount: float, updated_at: string}>
     */
    public function history(?string $code, ?string $since, int $afterId, int $pageSize): array;

    /**
     * The newest history id of a card: inside addToBalance's transaction, the row that change wrote.
     */
    public function latestHistoryId(string $code): ?int;
}
