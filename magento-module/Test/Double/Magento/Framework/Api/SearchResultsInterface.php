<?php
declare(strict_types=1);

// Test double: Magento's search results interface.
namespace Magento\Framework\Api;

interface SearchResultsInterface
{
    public function getItems();

    public function setItems(array $items);

    public function getSearchCriteria();

    public function setSearchCriteria(SearchCriteriaInterface $searchCriteria);

    public function getTotalCount();

    public function setTotalCount($totalCount);
}
