<?php
declare(strict_types=1);

// Test double: Magento's base exception carrying a Phrase.
namespace Magento\Framework\Exception;

use Magento\Framework\Phrase;

class LocalizedException extends \Exception
{
    public function __construct(protected Phrase $phrase, ?\Exception $cause = null, $code = 0)
    {
        parent::__construct($phrase->render(), (int) $code, $cause);
    }

    public function getRawMessage(): string
    {
        return $this->phrase->getText();
    }
}
