<?php
declare(strict_types=1);

// Test double: Magento's module manager over a fixed list of enabled modules.
namespace Magento\Framework\Module;

class Manager
{
    /** @param list<string> $enabled */
    public function __construct(private readonly array $enabled = [])
    {
    }

    public function isEnabled($moduleName): bool
    {
        return in_array($moduleName, $this->enabled, true);
    }
}
