<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\ResourceModel\Outbox;

use Magento\Framework\Model\ResourceModel\Db\Collection\AbstractCollection;
use Tillbridge\Connector\Model\Outbox\OutboxRecord;
use Tillbridge\Connector\Model\ResourceModel\Outbox as OutboxResource;

class Collection extends AbstractCollection
{
    protected $_idFieldName = 'entity_id';

    protected function _construct(): void
    {
        $this->_init(OutboxRecord::class, OutboxResource::class);
    }
}
