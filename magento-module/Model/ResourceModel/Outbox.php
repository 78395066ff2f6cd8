<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\ResourceModel;

use Magento\Framework\Model\ResourceModel\Db\AbstractDb;

class Outbox extends AbstractDb
{
    protected function _construct(): void
    {
        $this->_init('tillbridge_outbox', 'entity_id');
    }
}
