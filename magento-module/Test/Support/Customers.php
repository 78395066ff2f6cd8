<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

use Magento\Catalog\Api\ProductRepositoryInterface;
use Magento\Customer\Api\CustomerRepositoryInterface;
use Magento\Framework\Exception\NoSuchEntityException;
use Magento\Sales\Api\CreditmemoRepositoryInterface;
use Magento\Sales\Api\OrderRepositoryInterface;

final class Customers implements CustomerRepositoryInterface
{
    /** @var array<int, CustomerData> */
    public array $byId = [];

    public function getById($customerId)
    {
        return $this->byId[(int) $customerId] ?? throw new NoSuchEntityException(__('No such entity with %1 = %2', 'customerId', $customerId));
    }
}
