<?php
declare(strict_types=1);

// Test double: the subset of Magento's interface that the module calls.
namespace Magento\Framework\Encryption;

interface EncryptorInterface
{
    public function encrypt($data);

    public function decrypt($data);
}
