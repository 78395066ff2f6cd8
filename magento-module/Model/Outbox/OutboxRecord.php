<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\Outbox;

use Magento\Framework\Model\AbstractModel;
use Tillbridge\Connector\Model\ResourceModel\Outbox as OutboxResource;

/**
 * An outbox row as a Magento model, for the admin grid's collection and mass actions.
 */
class OutboxRecord extends AbstractModel
{
    protected $_eventPrefix = 'tillbridge_outbox';

    protected function _construct(): void
    {
        $this->_init(OutboxResource::class);
    }
}
