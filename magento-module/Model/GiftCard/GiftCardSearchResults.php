<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\GiftCard;

use Magento\Framework\Api\SearchResults;
use Tillbridge\Connector\Api\Data\GiftCardSearchResultsInterface;

class GiftCardSearchResults extends SearchResults implements GiftCardSearchResultsInterface
{
}
