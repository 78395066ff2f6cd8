<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\GiftCard;

use Magento\Framework\Api\SearchCriteriaInterface;
use Magento\Framework\DB\Adapter\DuplicateException;
use Magento\Framework\Exception\InputException;
use Magento\Framework\Exception\NoSuchEntityException;
use Magento\Framework\Module\Manager as ModuleManager;
use Magento\Framework\Webapi\Exception as WebapiException;
use Tillbridge\Connector\Api\Data\GiftCardAdjustmentInterface;
use Tillbridge\Connector\Api\Data\GiftCardInterface;
use Tillbridge\Connector\Api\Data\GiftCardSearchResultsInterface;
use Tillbridge\Connector\Api\GiftCardAccountManagementInterface;
use Tillbridge\Connector\Model\Clock;

/**
 * The /V1/tillbridge/giftcards routes. Errors map to HTTP as the webapi does: NoSuchEntity 404,
 * InputException 400; a store without Adobe Commerce's gift cards answers 501.
 */
class AccountManagement implements GiftCardAccountManagementInterface
{
    public const GIFT_CARD_MODULE = 'Magento_GiftCardAccount';
    public const MAX_CODE_LENGTH = 255;
    public const MAX_KEY_LENGTH = 128;
    public const MAX_HISTORY_PAGE = 1000;
    private const HTTP_CONFLICT = 409;
    private const HTTP_NOT_IMPLEMENTED = 501;
    private const EPSILON = 0.00005;

    public function __construct(
        private readonly ModuleManager $moduleManager,
        private readonly AccountStoreInterface $store,
        private readonly AdjustmentLog $log,
        private readonly Clock $clock
    ) {
    }

    public function get(string $code): GiftCardInterface
    {
        $this->requireGiftCards();
        return $this->existing($this->validCode($code));
    }

    public function getList(SearchCriteriaInterface $searchCriteria): GiftCardSearchResultsInterface
    {
        $this->requireGiftCards();
        return $this->store->search($searchCriteria);
    }

    public function create(GiftCardInterface $giftCard): GiftCardInterface
    {
        $this->requireGiftCards();
        $code = $this->validCode($giftCard->getCode());
        $giftCard->setCode($code);
        $balance = $giftCard->getBalance();
        if (!is_finite($balance) || $balance < 0) {
            throw new InputException(__('"balance" must be zero or more, got %1.', $balance));
        }
        $giftCard->setBalance(round($balance, 4));
        $currency = $giftCard->getCurrencyCode();
        if ($currency !== null && !preg_match('/^[A-Z]{3}$/', $currency)) {
            throw new InputException(__('"currency_code" must be a 3-letter ISO 4217 code such as USD, got "%1".', $currency));
        }
        $status = $giftCard->getStatus();
        if ($status !== null && !in_array($status, [GiftCardInterface::STATUS_DISABLED, GiftCardInterface::STATUS_ENABLED], true)) {
            throw new InputException(__('"status" must be 1 (enabled) or 0 (disabled), got %1.', $status));
        }
        $expires = $giftCard->getDateExpires();
        if ($expires !== null && $expires !== '' && \DateTimeImmutable::createFromFormat('!Y-m-d', $expires) === false) {
            throw new InputException(__('"date_expires" must be a date as YYYY-MM-DD, got "%1".', $expires));
        }
        if ($this->store->find($code) !== null) {
            throw new InputException(__(
                'A gift card account with code "%1" already exists; change its balance with POST /V1/tillbridge/giftcards/%1/adjustments.',
                $code
            ));
        }
        return $this->store->create($giftCard);
    }

    public function adjust(string $code, GiftCardAdjustmentInterface $adjustment): GiftCardInterface
    {
        $this->requireGiftCards();
        $code = $this->validCode($code);
        $amount = round($adjustment->getAmount(), 4);
        if (!is_finite($amount) || abs($amount) < self::EPSILON) {
            throw new InputException(__('"amount" must be a non-zero number: positive adds to the balance, negative takes from it.'));
        }
        $key = trim($adjustment->getIdempotencyKey());
        if ($key === '' || strlen($key) > self::MAX_KEY_LENGTH) {
            throw new InputException(__('"idempotency_key" is required (1 to %1 characters) so a retried request is applied once.', self::MAX_KEY_LENGTH));
        }
        $reason = $adjustment->getReason();
        $reason = $reason === null || trim($reason) === '' ? null : mb_substr(trim($reason), 0, 255);

        $previous = $this->log->find($key);
        if ($previous !== null) {
            return $this->replay($key, $previous, $code, $amount);
        }
        $card = $this->existing($code);
        if ($card->getBalance() + $amount < -self::EPSILON) {
            throw new InputException(__(
                'The gift card balance is %1; an adjustment of %2 would take it below zero.',
                $card->getBalance(),
                $amount
            ));
        }
        $code = $card->getCode();
        try {
            return $this->log->transaction(function () use ($key, $code, $amount, $reason): GiftCardInterface {
                $this->log->claim($key, $code, $amount, $reason, $this->clock->format($this->clock->now()));
                $updated = $this->store->addToBalance($code, $amount);
                $this->log->setBalanceAfter($key, $updated->getBalance());
                $this->log->setHistoryId($key, $this->store->latestHistoryId($code));
                return $updated;
            });
        } catch (DuplicateException) {
            // A concurrent request with the same key won; answer as its replay.
            $previous = $this->log->find($key);
            if ($previous === null) {
                throw new WebapiException(__('Idempotency key "%1" is in use by a request still running; retry.', $key), 0, self::HTTP_CONFLICT);
            }
            return $this->replay($key, $previous, $code, $amount);
        }
    }

    public function getHistory(?string $code = null, ?string $since = null, int $afterId = 0, int $pageSize = 100): array
    {
        $this->requireGiftCards();
        if ($pageSize < 1 || $pageSize > self::MAX_HISTORY_PAGE) {
            throw new InputException(__('"pageSize" must be between 1 and %1, got %2.', self::MAX_HISTORY_PAGE, $pageSize));
        }
        if ($afterId < 0) {
            throw new InputException(__('"afterId" must be zero or more, got %1.', $afterId));
        }
        if ($code !== null && trim($code) !== '') {
            $code = $this->existing($this->validCode($code))->getCode();
        } else {
            $code = null;
        }
        if ($since !== null && trim($since) !== '') {
            $moment = \DateTimeImmutable::createFromFormat('!Y-m-d H:i:s', trim($since), new \DateTimeZone('UTC'));
            if ($moment === false) {
                throw new InputException(__('"since" must be a UTC time as YYYY-MM-DD HH:MM:SS, got "%1".', $since));
            }
            $since = $moment->format('Y-m-d H:i:s');
        } else {
            $since = null;
        }
        $rows = $this->store->history($code, $since, $afterId, $pageSize);
        $applied = $this->log->byHistoryIds(array_map(static fn (array $row): int => $row['id'], $rows));
        $entries = [];
        foreach ($rows as $row) {
            $ours = $applied[$row['id']] ?? null;
            $entries[] = new HistoryEntry(
                $row['id'],
                $row['code'],
                $row['action'],
                $row['balance_delta'],
                $row['balance_amount'],
                $row['updated_at'],
                $ours['idempotency_key'] ?? null,
                $ours['reason'] ?? null
            );
        }
        return $entries;
    }

    /**
     * @param array{code: string, amount: float, balance_after: float, created_at: string} $previous
     */
    private function replay(string $key, array $previous, string $code, float $amount): GiftCardInterface
    {
        if (strcasecmp($previous['code'], $code) !== 0 || abs($previous['amount'] - $amount) > self::EPSILON) {
            throw new InputException(__(
                'The idempotency key "%1" was already used for another adjustment (%2 on gift card "%3"); use a new key for a different adjustment.',
                $key,
                $previous['amount'],
                $previous['code']
            ));
        }
        return $this->existing($code);
    }

    private function existing(string $code): GiftCardInterface
    {
        $card = $this->store->find($code);
        if ($card === null) {
            throw new NoSuchEntityException(__('Gift card "%1" does not exist.', $code));
        }
        return $card;
    }

    private function validCode(string $code): string
    {
        $code = trim($code);
        if ($code === '' || strlen($code) > self::MAX_CODE_LENGTH) {
            throw new InputException(__('"code" is required (1 to %1 characters).', self::MAX_CODE_LENGTH));
        }
        return $code;
    }

    private function requireGiftCards(): void
    {
        if (!$this->moduleManager->isEnabled(self::GIFT_CARD_MODULE)) {
            throw new WebapiException(
                __(
                    'Gift card accounts need Adobe Commerce: the %1 module is not installed or not enabled in this store, so Tillbridge cannot read or change gift card balances here.',
                    self::GIFT_CARD_MODULE
                ),
                0,
                self::HTTP_NOT_IMPLEMENTED
            );
        }
    }
}
