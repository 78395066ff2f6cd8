<?php
declare(strict_types=1);

// Test double: Magento's search results data object.
namespace Magento\Framework\Api;

class SearchResults implements SearchResultsInterface
{
    private array $items = [];
    private ?SearchCriteriaInterface $criteria = null;
    private int $total = 0;

    public function getItems()
    {
        return $this->items;
    }

    public function setItems(array $items)
    {
        $this->items = $items;
        return $this;
    }

    public function getSearchCriteria()
    {
        return $this->criteria;
    }

    public function setSearchCriteria(SearchCriteriaInterface $searchCriteria)
    {
        $this->criteria = $searchCriteria;
        return $this;
    }

    public function getTotalCount()
    {
        return $this->total;
    }

    public function setTotalCount($totalCount)
    {
        $this->total = (int) $totalCount;
        return $this;
    }
}
