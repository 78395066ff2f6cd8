<?php
declare(strict_types=1);

// Test double: thrown by Magento's MySQL adapter on a unique key violation.
namespace Magento\Framework\DB\Adapter;

class DuplicateException extends \RuntimeException
{
}
