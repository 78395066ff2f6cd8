<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

use Magento\Store\Api\Data\StoreInterface;

final class StoreView implements StoreInterface
{
    public function __construct(private readonly int $id, private readonly string $code)
    {
    }

    public function getId()
    {
        return $this->id;
    }

    public function getCode()
    {
        return $this->code;
    }

    public function getWebsiteId()
    {
        return 1;
    }
}
