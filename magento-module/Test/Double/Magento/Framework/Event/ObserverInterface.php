<?php
declare(strict_types=1);

// Test double: Magento's observer contract.
namespace Magento\Framework\Event;

interface ObserverInterface
{
    public function execute(Observer $observer);
}
