<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Api;

/**
 * Gift card accounts for Tillbridge (Adobe Commerce's Magento_GiftCardAccount has no REST create or
 * update on-premise). Routes in etc/webapi.xml; the contract is in README.md.
 *
 * @api
 */
interface GiftCardAccountManagementInterface
{
    /**
     * GET /V1/tillbridge/giftcards/:code
     *
     * @param string $code
     * @return \Tillbridge\Connector\Api\Data\GiftCardAccountInterface
     * @throws \Magento\Framework\Exception\NoSuchEntityException
     * @throws \Magento\Framework\Webapi\Exception
     */
    public function get(string $code): Data\GiftCardAccountInterface;

    /**
     * POST /V1/tillbridge/giftcards {"giftcard": {"code", "balance", "currency"?}}
     *
     * @param \Tillbridge\Connector\Api\Data\GiftCardInterface $giftcard
     * @return \Tillbridge\Connector\Api\Data\GiftCardAccountInterface
     * @throws \Magento\Framework\Exception\InputException
     * @throws \Magento\Framework\Webapi\Exception
     */
    public function create(Data\GiftCardInterface $giftcard): Data\GiftCardAccountInterface;

    /**
     * POST /V1/tillbridge/giftcards/:code/adjustments
     * {"adjustment": {"amount", "idempotency_key", "reason"?}}
     *
     * @param string $code
     * @param \Tillbridge\Connector\Api\Data\GiftCardAdjustmentInterface $adjustment
     * @return \Tillbridge\Connector\Api\Data\GiftCardAccountInterface
     * @throws \Magento\Framework\Exception\NoSuchEntityException
     * @throws \Magento\Framework\Exception\InputException
     * @throws \Magento\Framework\Webapi\Exception
     */
    public function adjust(string $code, Data\GiftCardAdjustmentInterface $adjustment): Data\GiftCardAccountInterface;
}
