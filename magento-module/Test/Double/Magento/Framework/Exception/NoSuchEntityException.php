<?php
declare(strict_types=1);

// Test double: the webapi answers it with 404.
namespace Magento\Framework\Exception;

class NoSuchEntityException extends LocalizedException
{
}
