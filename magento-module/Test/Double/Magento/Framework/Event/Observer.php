<?php
declare(strict_types=1);

// Test double: Magento's Observer, holding the dispatched event.
namespace Magento\Framework\Event;

use Magento\Framework\DataObject;
use Magento\Framework\Event;

class Observer extends DataObject
{
    public function getEvent(): Event
    {
        return $this->_data['event'];
    }
}
