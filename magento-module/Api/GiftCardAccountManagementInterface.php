<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Api;

/**
 * Gift card accounts for Tillbridge: on-premise Adobe Commerce has no REST create or update for
 * Magento_GiftCardAccount. Routes in etc/webapi.xml; the contract is in README.md.
 *
 * @api
 */
interface GiftCardAccountManagementInterface
{
    /**
     * GET /V1/tillbridge/giftcards/:code
     *
     * @param string $code
     * @return \Tillbridge\Connector\Api\Data\GiftCardInterface
     * @throws \Magento\Framework\Exception\NoSuchEntityException
     * @throws \Magento\Framework\Webapi\Exception
     */
    public function get(string $code): Data\GiftCardInterface;

    /**
     * GET /V1/tillbridge/giftcards?searchCriteria[...]
     *
     * @param \Magento\Framework\Api\SearchCriteriaInterface $searchCriteria
     * @return \Tillbridge\Connector\Api\Data\GiftCardSearchResultsInterface
     * @throws \Magento\Framework\Webapi\Exception
     */
    public function getList(
        \Magento\Framework\Api\SearchCriteriaInterface $searchCriteria
    ): Data\GiftCardSearchResultsInterface;

    /**
     * POST /V1/tillbridge/giftcards {"giftCard": {"code", "balance", "currency_code"?, "status"?,
     * "is_redeemable"?, "date_expires"?, "website_id"?}}
     *
     * @param \Tillbridge\Connector\Api\Data\GiftCardInterface $giftCard
     * @return \Tillbridge\Connector\Api\Data\GiftCardInterface
     * @throws \Magento\Framework\Exception\InputException
     * @throws \Magento\Framework\Webapi\Exception
     */
    public function create(Data\GiftCardInterface $giftCard): Data\GiftCardInterface;

    /**
     * POST /V1/tillbridge/giftcards/:code/adjustments
     * {"adjustment": {"amount", "idempotency_key", "reason"?}}
     *
     * @param string $code
     * @param \Tillbridge\Connector\Api\Data\GiftCardAdjustmentInterface $adjustment
     * @return \Tillbridge\Connector\Api\Data\GiftCardInterface
     * @throws \Magento\Framework\Exception\NoSuchEntityException
     * @throws \Magento\Framework\Exception\InputException
     * @throws \Magento\Framework\Webapi\Exception
     */
    public function adjust(string $code, Data\GiftCardAdjustmentInterface $adjustment): Data\GiftCardInterface;

    /**
     * GET /V1/tillbridge/giftcard-history?code=&since=&afterId=&pageSize=
     * Balance changes, oldest first; page on by passing the last id as afterId.
     *
     * @param string|null $code one card's changes only
     * @param string|null $since Y-m-d H:i:s UTC: changes at or after it
     * @param int $afterId changes with a history id above it
     * @param int $pageSize 1 to 1000
     * @return \Tillbridge\Connector\Api\Data\GiftCardHistoryInterface[]
     * @throws \Magento\Framework\Exception\NoSuchEntityException
     * @throws \Magento\Framework\Exception\InputException
     * @throws \Magento\Framework\Webapi\Exception
     */
    public function getHistory(?string $code = null, ?string $since = null, int $afterId = 0, int $pageSize = 100): array;
}
