<?php
declare(strict_types=1);

// Test double: the subset of Magento's credit memo repository that the module calls.
namespace Magento\Sales\Api;

interface CreditmemoRepositoryInterface
{
    /**
     * @param int $id
     * @return \Magento\Sales\Api\Data\CreditmemoInterface
     */
    public function get($id);
}
