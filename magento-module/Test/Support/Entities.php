<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

use Magento\Catalog\Api\Data\ProductInterface;
use Magento\Customer\Api\Data\CustomerInterface;
use Magento\Framework\Model\AbstractModel;
use Magento\Sales\Api\Data\CreditmemoInterface;
use Magento\Sales\Api\Data\OrderInterface;
use Magento\Sales\Api\Data\OrderPaymentInterface;

final class Entities
{
    /** @param array<string, mixed> $data */
    public static function order(array $data, bool $loadedFromDatabase = false): OrderModel
    {
        $order = new OrderModel($data + ['store_id' => 1, 'state' => 'new', 'status' => 'pending']);
        if ($loadedFromDatabase) {
            $order->setOrigData();
        }
        return $order;
    }

    /** @param array<string, mixed> $data */
    public static function creditmemo(array $data, bool $loadedFromDatabase = false): CreditmemoModel
    {
        $memo = new CreditmemoModel($data + ['store_id' => 1]);
        if ($loadedFromDatabase) {
            $memo->setOrigData();
        }
        return $memo;
    }

    /** @param array<string, mixed> $data */
    public static function product(array $data): ProductModel
    {
        return new ProductModel($data + ['store_id' => 0, 'status' => 1]);
    }

    /** @param array<string, mixed> $data */
    public static function customer(array $data): CustomerData
    {
        return new CustomerData($data + ['store_id' => 1, 'website_id' => 1]);
    }
}
