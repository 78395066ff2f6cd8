<?php
declare(strict_types=1);

// Test double: the event carried by an Observer.
namespace Magento\Framework;

class Event extends DataObject
{
}
