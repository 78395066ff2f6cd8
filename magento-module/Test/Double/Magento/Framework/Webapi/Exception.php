<?php
declare(strict_types=1);

// Test double: Magento's webapi exception carrying its own HTTP status.
namespace Magento\Framework\Webapi;

use Magento\Framework\Exception\LocalizedException;
use Magento\Framework\Phrase;

class Exception extends LocalizedException
{
    public const HTTP_BAD_REQUEST = 400;

    public function __construct(Phrase $phrase, $code = 0, private int $httpCode = self::HTTP_BAD_REQUEST)
    {
        if ($httpCode < 400 || $httpCode > 599) {
            throw new \InvalidArgumentException(sprintf('The specified HTTP code "%d" is invalid.', $httpCode));
        }
        parent::__construct($phrase, null, $code);
    }

    public function getHttpCode(): int
    {
        return $this->httpCode;
    }
}
