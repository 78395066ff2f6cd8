<?php
declare(strict_types=1);

// Test double: the subset of Magento's order repository that the module calls.
namespace Magento\Sales\Api;

interface OrderRepositoryInterface
{
    /**
     * @param int $id
     * @return \Magento\Sales\Api\Data\OrderInterface
     */
    public function get($id);
}
