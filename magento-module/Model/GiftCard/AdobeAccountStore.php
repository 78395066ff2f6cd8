<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\GiftCard;

use Magento\Framework\Api\SearchCriteria\CollectionProcessorInterface;
use Magento\Framework\Api\SearchCriteriaInterface;
use Magento\Framework\App\ResourceConnection;
use Magento\Framework\Exception\InputException;
use Magento\Framework\Exception\NoSuchEntityException;
use Magento\Framework\ObjectManagerInterface;
use Magento\Store\Model\StoreManagerInterface;
use Tillbridge\Connector\Api\Data\GiftCardHistoryInterface;
use Tillbridge\Connector\Api\Data\GiftCardInterface;
use Tillbridge\Connector\Api\Data\GiftCardSearchResultsInterface;
use Tillbridge\Connector\Api\Data\GiftCardSearchResultsInterfaceFactory;

/**
 * Gift card accounts in Adobe Commerce's Magento_GiftCardAccount tables.
 *
 * The Adobe Commerce classes are named as strings and created on demand, so this module installs
 * and compiles (setup:di:compile) on Magento Open Source too, where AccountManagement answers 501
 * before this class is used.
 */
class AdobeAccountStore implements AccountStoreInterface
{
    private const MODEL = 'Magento\\GiftCardAccount\\Model\\Giftcardaccount';
    private const COLLECTION = 'Magento\\GiftCardAccount\\Model\\ResourceModel\\Giftcardaccount\\Collection';
    private const TABLE = 'magento_giftcardaccount';
    private const HISTORY_TABLE = 'magento_giftcardaccount_history';

    public function __construct(
        private readonly ObjectManagerInterface $objectManager,
        private readonly StoreManagerInterface $storeManager,
        private readonly ResourceConnection $resource,
        private readonly CollectionProcessorInterface $collectionProcessor,
        private readonly GiftCardSearchResultsInterfaceFactory $searchResultsFactory
    ) {
    }

    public function find(string $code): ?GiftCardInterface
    {
        $model = $this->objectManager->create(self::MODEL);
        $model->loadByCode($code);
        return $model->getId() ? $this->toCard($model) : null;
    }

    public function create(GiftCardInterface $card): GiftCardInterface
    {
        $websiteId = $card->getWebsiteId() ?? (int) $this->storeManager->getDefaultStoreView()->getWebsiteId();
        $baseCurrency = $this->baseCurrency($websiteId);
        $currency = $card->getCurrencyCode();
        if ($currency !== null && $currency !== $baseCurrency) {
            throw new InputException(__(
                'Gift card currency %1 differs from the base currency %2 of website %3; send %2 or leave "currency_code" out.',
                $currency,
                $baseCurrency,
                $websiteId
            ));
        }
        $model = $this->objectManager->create(self::MODEL);
        $model->setCode($card->getCode())
            ->setBalance($card->getBalance())
            ->setWebsiteId($websiteId)
            ->setStatus($card->getStatus() ?? GiftCardInterface::STATUS_ENABLED)
            ->setState($card->getBalance() > 0 ? GiftCardInterface::STATE_AVAILABLE : GiftCardInterface::STATE_USED)
            ->setIsRedeemable(($card->getIsRedeemable() ?? true) ? 1 : 0)
            ->setDateExpires($card->getDateExpires() ?: null)
            ->save();
        return $this->toCard($model);
    }

    public function addToBalance(string $code, float $amount): GiftCardInterface
    {
        $id = $this->resource->getConnection()->fetchOne(
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
                'The gift card balance is %1; an adjustment of %2 would take it below zero.',
                (float) $model->getBalance(),
                $amount
            ));
        }
        $state = (int) $model->getState();
        if ($state === GiftCardInterface::STATE_AVAILABLE || $state === GiftCardInterface::STATE_USED) {
            $model->setState($balance > 0 ? GiftCardInterface::STATE_AVAILABLE : GiftCardInterface::STATE_USED);
        }
        $model->setBalance($balance)->save();
        return $this->toCard($model);
    }

    public function search(SearchCriteriaInterface $criteria): GiftCardSearchResultsInterface
    {
        $collection = $this->objectManager->create(self::COLLECTION);
        $this->collectionProcessor->process($criteria, $collection);
        $items = [];
        foreach ($collection->getItems() as $model) {
            $items[] = $this->toCard($model);
        }
        $results = $this->searchResultsFactory->create();
        $results->setSearchCriteria($criteria);
        $results->setItems($items);
        $results->setTotalCount((int) $collection->getSize());
        return $results;
    }

    public function history(?string $code, ?string $since, int $afterId, int $pageSize): array
    {
        $sql = 'SELECT h.history_id, a.code, h.action, h.balance_delta, h.balance_amount, h.updated_at FROM '
            . $this->resource->getTableName(self::HISTORY_TABLE) . ' h JOIN '
            . $this->resource->getTableName(self::TABLE) . ' a ON a.giftcardaccount_id = h.giftcardaccount_id'
            . ' WHERE h.history_id > ?';
        $bind = [$afterId];
        if ($code !== null) {
            $sql .= ' AND a.code = ?';
            $bind[] = $code;
        }
        if ($since !== null) {
            $sql .= ' AND h.updated_at >= ?';
            $bind[] = $since;
        }
        $sql .= ' ORDER BY h.history_id ASC LIMIT ' . max(1, $pageSize);
        $rows = [];
        foreach ($this->resource->getConnection()->fetchAll($sql, $bind) as $row) {
            $rows[] = [
                'id' => (int) $row['history_id'],
                'code' => (string) $row['code'],
                // Magento\GiftCardAccount\Model\History::ACTION_CREATED (0) … ACTION_UPDATED (5)
                'action' => GiftCardHistoryInterface::ACTIONS[(int) $row['action']] ?? 'updated',
                'balance_delta' => (float) $row['balance_delta'],
                'balance_amount' => (float) $row['balance_amount'],
                'updated_at' => gmdate('Y-m-d H:i:s', (int) strtotime((string) $row['updated_at'] . ' UTC')),
            ];
        }
        return $rows;
    }

    public function latestHistoryId(string $code): ?int
    {
        $id = $this->resource->getConnection()->fetchOne(
            'SELECT MAX(h.history_id) FROM ' . $this->resource->getTableName(self::HISTORY_TABLE) . ' h JOIN '
            . $this->resource->getTableName(self::TABLE) . ' a ON a.giftcardaccount_id = h.giftcardaccount_id'
            . ' WHERE a.code = ?',
            [$code]
        );
        return $id ? (int) $id : null;
    }

    private function toCard(object $model): GiftCardInterface
    {
        $websiteId = (int) $model->getWebsiteId();
        $created = (string) $model->getDateCreated();
        $createdAt = $created === '' ? null : gmdate('Y-m-d H:i:s', (int) strtotime($created . ' UTC'));
        return (new GiftCard())
            ->setId((int) $model->getId())
            ->setCode((string) $model->getCode())
            ->setBalance((float) $model->getBalance())
            ->setCurrencyCode($this->baseCurrency($websiteId))
            ->setStatus((int) $model->getStatus())
            ->setState((int) $model->getState())
            ->setIsRedeemable((bool) $model->getIsRedeemable())
            ->setDateExpires($model->getDateExpires() ? (string) $model->getDateExpires() : null)
            ->setWebsiteId($websiteId)
            ->setCreatedAt($createdAt)
            ->setUpdatedAt($this->updatedAt((int) $model->getId(), (string) $model->getCode()) ?? $createdAt);
    }

    /** The latest balance change: Adobe's history table, or Tillbridge's adjustment log. */
    private function updatedAt(int $id, string $code): ?string
    {
        $connection = $this->resource->getConnection();
        $history = $connection->fetchOne(
            'SELECT MAX(updated_at) FROM ' . $this->resource->getTableName(self::HISTORY_TABLE) . ' WHERE giftcardaccount_id = ?',
            [$id]
        );
        $adjusted = $connection->fetchOne(
            'SELECT MAX(created_at) FROM ' . $this->resource->getTableName(AdjustmentLog::TABLE) . ' WHERE code = ?',
            [$code]
        );
        $candidates = array_filter([(string) $history, (string) $adjusted]);
        return $candidates === [] ? null : max($candidates);
    }

    private function baseCurrency(int $websiteId): string
    {
        return (string) $this->storeManager->getWebsite($websiteId)->getBaseCurrencyCode();
    }
}
