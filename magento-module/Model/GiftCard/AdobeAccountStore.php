<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\GiftCard;

use Magento\Framework\App\ResourceConnection;
use Magento\Framework\Exception\InputException;
use Magento\Framework\Exception\NoSuchEntityException;
use Magento\Framework\ObjectManagerInterface;
use Magento\Store\Model\StoreManagerInterface;
use Tillbridge\Connector\Api\Data\GiftCardAccountInterface;

/**
 * Gift card accounts in Adobe Commerce's Magento_GiftCardAccount tables.
 *
 * The Adobe Commerce model is named as a string and created on demand, so this module installs and
 * compiles (setup:di:compile) on Magento Open Source too, where AccountManagement answers 501
 * before this class is used.
 */
class AdobeAccountStore implements AccountStoreInterface
{
    private const MODEL = 'Magento\\GiftCardAccount\\Model\\Giftcardaccount';
    private const TABLE = 'magento_giftcardaccount';
    private const HISTORY_TABLE = 'magento_giftcardaccount_history';
    private const STATUS_ENABLED = 1;
    private const STATE_AVAILABLE = 0;
    private const STATES = [
        0 => GiftCardAccountInterface::STATUS_ACTIVE,
        1 => GiftCardAccountInterface::STATUS_USED,
        2 => GiftCardAccountInterface::STATUS_REDEEMED,
        3 => GiftCardAccountInterface::STATUS_EXPIRED,
    ];

    public function __construct(
        private readonly ObjectManagerInterface $objectManager,
        private readonly StoreManagerInterface $storeManager,
        private readonly ResourceConnection $resource,
        private readonly AdjustmentLog $log
    ) {
    }

    public function find(string $code): ?GiftCardAccountInterface
    {
        $model = $this->load($code);
        return $model === null ? null : $this->toAccount($model);
    }

    public function create(string $code, float $balance, ?string $currency): GiftCardAccountInterface
    {
        $websiteId = (int) $this->storeManager->getDefaultStoreView()->getWebsiteId();
        $baseCurrency = (string) $this->storeManager->getWebsite($websiteId)->getBaseCurrencyCode();
        if ($currency !== null && $currency !== $baseCurrency) {
            throw new InputException(__(
                'Gift card currency %1 differs from the website base currency %2; send %2 or leave "currency" out.',
                $currency,
                $baseCurrency
            ));
        }
        $model = $this->objectManager->create(self::MODEL);
        $model->setCode($code)
            ->setBalance($balance)
            ->setWebsiteId($websiteId)
            ->setStatus(self::STATUS_ENABLED)
            ->setState(self::STATE_AVAILABLE)
            ->setIsRedeemable(1)
            ->save();
        return $this->toAccount($model);
    }

    public function addToBalance(string $code, float $amount): GiftCardAccountInterface
    {
        $connection = $this->resource->getConnection();
        $id = $connection->fetchOne(
            'SELECT giftcardaccount_id FROM ' . $this->resource->getTableName(self::TABLE) . ' WHERE code = ? FOR UPDATE',
            [$code]
        );
        if (!$id) {
            throw new NoSuchEntityException(__('Gift card "%1" does not exist.', $code));
        }
        $model = $this->objectManager->create(self::MODEL)->load((int) $id);
        $balance = round((float) $model->getBalance() + $amount, 4);
        if ($balance < 0) {
            throw new InputException(__(
                'Gift card "%1" has a balance of %2; an adjustment of %3 would take it below zero.',
                $code,
                (float) $model->getBalance(),
                $amount
            ));
        }
        $model->setBalance($balance)->save();
        return $this->toAccount($model);
    }

    private function load(string $code): ?object
    {
        $model = $this->objectManager->create(self::MODEL);
        $model->loadByCode($code);
        return $model->getId() ? $model : null;
    }

    private function toAccount(object $model): GiftCardAccountInterface
    {
        $status = (int) $model->getStatus() === self::STATUS_ENABLED
            ? (self::STATES[(int) $model->getState()] ?? GiftCardAccountInterface::STATUS_ACTIVE)
            : GiftCardAccountInterface::STATUS_DISABLED;
        return new Account(
            (string) $model->getCode(),
            (float) $model->getBalance(),
            (string) $this->storeManager->getWebsite((int) $model->getWebsiteId())->getBaseCurrencyCode(),
            $status,
            $this->updatedAt((int) $model->getId(), (string) $model->getCode(), (string) $model->getDateCreated())
        );
    }

    private function updatedAt(int $id, string $code, string $created): string
    {
        $history = $this->resource->getConnection()->fetchOne(
            'SELECT MAX(updated_at) FROM ' . $this->resource->getTableName(self::HISTORY_TABLE) . ' WHERE giftcardaccount_id = ?',
            [$id]
        );
        $candidates = array_filter([(string) $history, (string) $this->log->lastChangeAt($code), $created]);
        $latest = $candidates === [] ? gmdate('Y-m-d H:i:s') : max($candidates);
        $time = new \DateTimeImmutable($latest, new \DateTimeZone('UTC'));
        return $time->format(DATE_ATOM);
    }
}
