<?php
declare(strict_types=1);

// Test double: the subset of Magento's search criteria interface the tests use.
namespace Magento\Framework\Api;

interface SearchCriteriaInterface
{
    public function getPageSize();

    public function getCurrentPage();
}
