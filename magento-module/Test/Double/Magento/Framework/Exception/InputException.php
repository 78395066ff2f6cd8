<?php
declare(strict_types=1);

// Test double: the webapi answers it with 400.
namespace Magento\Framework\Exception;

class InputException extends LocalizedException
{
}
