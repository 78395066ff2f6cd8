<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\ResourceModel\Outbox\Grid;

use Magento\Framework\View\Element\UiComponent\DataProvider\SearchResult;
use Tillbridge\Connector\Model\Outbox\OutboxEvent;

/**
 * The failed list's data: failed outbox rows only.
 */
class FailedCollection extends SearchResult
{
    protected function _initSelect()
    {
        parent::_initSelect();
        $this->addFieldToFilter('main_table.status', OutboxEvent::STATUS_FAILED);
        return $this;
    }
}
