<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

use Magento\Framework\Exception\InputException;
use Magento\Framework\Exception\NoSuchEntityException;
use Tillbridge\Connector\Api\Data\GiftCardAccountInterface;
use Tillbridge\Connector\Model\GiftCard\Account;
use Tillbridge\Connector\Model\GiftCard\AccountStoreInterface;

/**
 * Stands in for Adobe Commerce's gift card accounts (not installable here): USD website, balances
 * kept in an array; a balance change fails when asked to, as a database error would.
 */
final class InMemoryAccountStore implements AccountStoreInterface
{
    /** @var array<string, float> */
    public array $balances = [];
    public ?\Throwable $failNextChange = null;
    public int $changes = 0;

    public function __construct(private readonly FixedClock $clock)
    {
    }

    public function find(string $code): ?GiftCardAccountInterface
    {
        return isset($this->balances[$code]) ? $this->account($code) : null;
    }

    public function create(string $code, float $balance, ?string $currency): GiftCardAccountInterface
    {
        if ($currency !== null && $currency !== 'USD') {
            throw new InputException(__('Gift card currency %1 differs from the website base currency %2; send %2 or leave "currency" out.', $currency, 'USD'));
        }
        $this->balances[$code] = $balance;
        return $this->account($code);
    }

    public function addToBalance(string $code, float $amount): GiftCardAccountInterface
    {
        if (!isset($this->balances[$code])) {
            throw new NoSuchEntityException(__('Gift card "%1" does not exist.', $code));
        }
        if ($this->failNextChange !== null) {
            $error = $this->failNextChange;
            $this->failNextChange = null;
            throw $error;
        }
        $this->balances[$code] = round($this->balances[$code] + $amount, 4);
        $this->changes++;
        return $this->account($code);
    }

    private function account(string $code): Account
    {
        $balance = $this->balances[$code];
        return new Account(
            $code,
            $balance,
            'USD',
            $balance > 0 ? GiftCardAccountInterface::STATUS_ACTIVE : GiftCardAccountInterface::STATUS_USED,
            gmdate(DATE_ATOM, $this->clock->now())
        );
    }
}
