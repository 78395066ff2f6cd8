<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

use Magento\Framework\DataObject;
use Magento\Store\Model\StoreManagerInterface;

/** Store views by ID: 0 admin, 1 default, 2 french. */
final class Stores implements StoreManagerInterface
{
    private const CODES = [0 => 'admin', 1 => 'default', 2 => 'french'];

    public function getStore($storeId = null)
    {
        $id = (int) ($storeId ?? 1);
        if (!isset(self::CODES[$id])) {
            throw new \RuntimeException(sprintf('The store that was requested (%d) wasn\'t found.', $id));
        }
        return new StoreView($id, self::CODES[$id]);
    }

    public function getDefaultStoreView()
    {
        return $this->getStore(1);
    }

    public function getWebsite($websiteId = null)
    {
        return new DataObject(['id' => 1, 'base_currency_code' => 'USD']);
    }
}
