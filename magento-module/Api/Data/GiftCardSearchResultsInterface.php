<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Api\Data;

use Magento\Framework\Api\SearchResultsInterface;

/**
 * @api
 */
interface GiftCardSearchResultsInterface extends SearchResultsInterface
{
    /**
     * @return \Tillbridge\Connector\Api\Data\GiftCardInterface[]
     */
    public function getItems();

    /**
     * @param \Tillbridge\Connector\Api\Data\GiftCardInterface[] $items
     * @return $this
     */
    public function setItems(array $items);
}
