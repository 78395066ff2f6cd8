<?php
declare(strict_types=1);

// Test double: Magento's ResourceConnection, backed by one adapter (SQLite in the tests).
namespace Magento\Framework\App;

use Magento\Framework\DB\Adapter\AdapterInterface;

class ResourceConnection
{
    public function __construct(private readonly AdapterInterface $connection)
    {
    }

    public function getConnection($resourceName = 'default'): AdapterInterface
    {
        return $this->connection;
    }

    public function getTableName($modelEntity, $connectionName = 'default'): string
    {
        return (string) $modelEntity;
    }
}
