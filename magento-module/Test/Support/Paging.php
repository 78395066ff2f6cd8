<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

use Magento\Framework\Api\SearchCriteriaInterface;

/** searchCriteria[pageSize] and searchCriteria[currentPage] only. */
final class Paging implements SearchCriteriaInterface
{
    public function __construct(private readonly ?int $pageSize = null, private readonly ?int $currentPage = null)
    {
    }

    public function getPageSize()
    {
        return $this->pageSize;
    }

    public function getCurrentPage()
    {
        return $this->currentPage;
    }
}
