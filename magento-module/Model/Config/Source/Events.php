<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\Config\Source;

use Magento\Framework\Data\OptionSourceInterface;
use Tillbridge\Connector\Model\Outbox\EventName;

class Events implements OptionSourceInterface
{
    /** @return list<array{value: string, label: string}> */
    public function toOptionArray(): array
    {
        $options = [];
        foreach (EventName::LABELS as $name => $label) {
            $options[] = ['value' => $name, 'label' => $label . ' (' . $name . ')'];
        }
        return $options;
    }
}
