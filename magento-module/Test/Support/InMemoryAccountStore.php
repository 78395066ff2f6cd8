<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

use Magento\Framework\Api\SearchCriteriaInterface;
use Magento\Framework\Exception\InputException;
use Magento\Framework\Exception\NoSuchEntityException;
use Tillbridge\Connector\Api\Data\GiftCardInterface;
use Tillbridge\Connector\Api\Data\GiftCardSearchResultsInterface;
use Tillbridge\Connector\Model\GiftCard\AccountStoreInterface;
use Tillbridge\Connector\Model\GiftCard\GiftCard;
use Tillbridge\Connector\Model\GiftCard\GiftCardSearchResults;

/**
 * Stands in for Adobe Commerce's gift card accounts (not installable here): one USD website,
 * accounts kept in an array; a balance change fails when asked to, as a database error would.
 */
final class InMemoryAccountStore implements AccountStoreInterface
{
    /** @var array<string, GiftCard> by upper-case code, as MySQL's collation matches codes */
    public array $cards = [];
    public ?\Throwable $failNextChange = null;
    public int $changes = 0;
    /** @var list<array{id: int, code: string, action: string, balance_delta: float, balance_amount: float, updated_at: string}> */
    public array $history = [];

    public function __construct(private readonly FixedClock $clock)
    {
    }

    public function balance(string $code): float
    {
        return $this->cards[strtoupper($code)]->getBalance();
    }

    public function find(string $code): ?GiftCardInterface
    {
        $card = $this->cards[strtoupper($code)] ?? null;
        return $card === null ? null : clone $card;
    }

    public function create(GiftCardInterface $card): GiftCardInterface
    {
        $currency = $card->getCurrencyCode();
        if ($currency !== null && $currency !== 'USD') {
            throw new InputException(__('Gift card currency %1 differs from the base currency %2 of website %3; send %2 or leave "currency_code" out.', $currency, 'USD', 1));
        }
        $now = $this->clock->format($this->clock->now());
        $stored = (new GiftCard())
            ->setId(count($this->cards) + 1)
            ->setCode($card->getCode())
            ->setBalance($card->getBalance())
            ->setCurrencyCode('USD')
            ->setStatus($card->getStatus() ?? GiftCardInterface::STATUS_ENABLED)
            ->setState($card->getBalance() > 0 ? GiftCardInterface::STATE_AVAILABLE : GiftCardInterface::STATE_USED)
            ->setIsRedeemable($card->getIsRedeemable() ?? true)
            ->setDateExpires($card->getDateExpires())
            ->setWebsiteId($card->getWebsiteId() ?? 1)
            ->setCreatedAt($now)
            ->setUpdatedAt($now);
        $this->cards[strtoupper($card->getCode())] = $stored;
        $this->record($stored, 'created', $stored->getBalance());
        return clone $stored;
    }

    public function addToBalance(string $code, float $amount): GiftCardInterface
    {
        $card = $this->cards[strtoupper($code)] ?? throw new NoSuchEntityException(__('Gift card "%1" does not exist.', $code));
        if ($this->failNextChange !== null) {
            $error = $this->failNextChange;
            $this->failNextChange = null;
            throw $error;
        }
        $balance = round($card->getBalance() + $amount, 4);
        $card->setBalance($balance)
            ->setState($balance > 0 ? GiftCardInterface::STATE_AVAILABLE : GiftCardInterface::STATE_USED)
            ->setUpdatedAt($this->clock->format($this->clock->now()));
        $this->changes++;
        $this->record($card, 'updated', $amount);
        return clone $card;
    }

    /** A change made in Magento itself (checkout, admin), as Magento_GiftCardAccount records it. */
    public function changeInStore(string $code, float $amount, string $action = 'used'): void
    {
        $card = $this->cards[strtoupper($code)];
        $card->setBalance(round($card->getBalance() + $amount, 4));
        $this->record($card, $action, $amount);
    }

    public function history(?string $code, ?string $since, int $afterId, int $pageSize): array
    {
        $rows = array_values(array_filter(
            $this->history,
            static fn (array $row): bool => $row['id'] > $afterId
                && ($code === null || strcasecmp($row['code'], $code) === 0)
                && ($since === null || $row['updated_at'] >= $since)
        ));
        return array_slice($rows, 0, $pageSize);
    }

    public function latestHistoryId(string $code): ?int
    {
        $ids = array_column($this->history(strtoupper($code), null, 0, PHP_INT_MAX), 'id');
        return $ids === [] ? null : max($ids);
    }

    private function record(GiftCard $card, string $action, float $delta): void
    {
        $this->history[] = [
            'id' => count($this->history) + 1,
            'code' => $card->getCode(),
            'action' => $action,
            'balance_delta' => round($delta, 4),
            'balance_amount' => $card->getBalance(),
            'updated_at' => $this->clock->format($this->clock->now()),
        ];
    }

    public function search(SearchCriteriaInterface $criteria): GiftCardSearchResultsInterface
    {
        $all = array_values($this->cards);
        $size = (int) ($criteria->getPageSize() ?: count($all));
        $page = max(1, (int) $criteria->getCurrentPage());
        $results = new GiftCardSearchResults();
        $results->setSearchCriteria($criteria);
        $results->setItems(array_slice($all, ($page - 1) * $size, $size));
        $results->setTotalCount(count($all));
        return $results;
    }
}
