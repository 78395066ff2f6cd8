<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\Outbox;

/**
 * The event names of the wire contract with the Tillbridge service (service/flows MAGENTO_EVENTS).
 */
final class EventName
{
    public const ORDER_CREATED = 'order.created';
    public const ORDER_UPDATED = 'order.updated';
    public const CUSTOMER_CREATED = 'customer.created';
    public const CUSTOMER_UPDATED = 'customer.updated';
    public const CREDITMEMO_CREATED = 'creditmemo.created';
    public const PRODUCT_SAVED = 'product.saved';

    public const LABELS = [
        self::ORDER_CREATED => 'Order placed',
        self::ORDER_UPDATED => 'Order changed (status, state, comments)',
        self::CUSTOMER_CREATED => 'Customer created',
        self::CUSTOMER_UPDATED => 'Customer changed',
        self::CREDITMEMO_CREATED => 'Credit memo created',
        self::PRODUCT_SAVED => 'Product saved',
    ];

    /** @return list<string> */
    public static function all(): array
    {
        return array_keys(self::LABELS);
    }
}
