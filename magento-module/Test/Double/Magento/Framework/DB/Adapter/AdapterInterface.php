<?php
declare(strict_types=1);

// Test double: the subset of Magento's DB adapter interface that the module calls.
namespace Magento\Framework\DB\Adapter;

interface AdapterInterface
{
    public function beginTransaction();

    public function commit();

    public function rollBack();

    public function insert($table, array $bind);

    public function update($table, array $bind, $where = '');

    public function delete($table, $where = '');

    public function fetchAll($sql, $bind = [], $fetchMode = null);

    public function fetchRow($sql, $bind = [], $fetchMode = null);

    public function fetchOne($sql, $bind = []);

    public function lastInsertId($tableName = null, $primaryKey = null);
}
