<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

use Magento\Catalog\Api\ProductRepositoryInterface;
use Magento\Customer\Api\CustomerRepositoryInterface;
use Magento\Framework\Exception\NoSuchEntityException;
use Magento\Sales\Api\CreditmemoRepositoryInterface;
use Magento\Sales\Api\OrderRepositoryInterface;

final class Creditmemos implements CreditmemoRepositoryInterface
{
    /** @var array<int, CreditmemoModel> */
    public array $byId = [];

    public function get($id)
    {
        return $this->byId[(int) $id] ?? throw new NoSuchEntityException(__('The entity that was requested doesn\'t exist. Verify the entity and try again.'));
    }
}
