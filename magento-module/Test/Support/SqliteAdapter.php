<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

use Magento\Framework\DB\Adapter\AdapterInterface;
use Magento\Framework\DB\Adapter\DuplicateException;

/**
 * Magento's DB adapter calls, run on an in-memory SQLite database created from etc/db_schema.xml,
 * so the repositories' real SQL runs in the tests.
 */
final class SqliteAdapter implements AdapterInterface
{
    public readonly \PDO $pdo;

    public function __construct()
    {
        $this->pdo = new \PDO('sqlite::memory:');
        $this->pdo->setAttribute(\PDO::ATTR_ERRMODE, \PDO::ERRMODE_EXCEPTION);
        $this->pdo->setAttribute(\PDO::ATTR_DEFAULT_FETCH_MODE, \PDO::FETCH_ASSOC);
        foreach (SchemaLoader::createStatements(dirname(__DIR__, 2) . '/etc/db_schema.xml') as $sql) {
            $this->pdo->exec($sql);
        }
    }

    public function beginTransaction()
    {
        $this->pdo->beginTransaction();
        return $this;
    }

    public function commit()
    {
        $this->pdo->commit();
        return $this;
    }

    public function rollBack()
    {
        $this->pdo->rollBack();
        return $this;
    }

    public function insert($table, array $bind)
    {
        $columns = array_keys($bind);
        $sql = sprintf(
            'INSERT INTO %s (%s) VALUES (%s)',
            $table,
            implode(', ', $columns),
            implode(', ', array_fill(0, count($columns), '?'))
        );
        return $this->run($sql, array_values($bind))->rowCount();
    }

    public function update($table, array $bind, $where = '')
    {
        $sets = [];
        foreach (array_keys($bind) as $column) {
            $sets[] = $column . ' = ?';
        }
        [$whereSql, $whereBind] = $this->where($where);
        return $this->run('UPDATE ' . $table . ' SET ' . implode(', ', $sets) . $whereSql, [...array_values($bind), ...$whereBind])->rowCount();
    }

    public function delete($table, $where = '')
    {
        [$whereSql, $whereBind] = $this->where($where);
        return $this->run('DELETE FROM ' . $table . $whereSql, $whereBind)->rowCount();
    }

    public function fetchAll($sql, $bind = [], $fetchMode = null)
    {
        return $this->run($sql, $bind)->fetchAll();
    }

    public function fetchRow($sql, $bind = [], $fetchMode = null)
    {
        return $this->run($sql, $bind)->fetch();
    }

    public function fetchOne($sql, $bind = [])
    {
        return $this->run($sql, $bind)->fetchColumn();
    }

    public function lastInsertId($tableName = null, $primaryKey = null)
    {
        return $this->pdo->lastInsertId();
    }

    /**
     * Magento's where arrays: ['column = ?' => value, 'column IN (?)' => [values]], joined with AND.
     *
     * @return array{0: string, 1: list<mixed>}
     */
    private function where($where): array
    {
        if ($where === '' || $where === []) {
            return ['', []];
        }
        $parts = [];
        $bind = [];
        foreach ((array) $where as $condition => $value) {
            if (is_array($value)) {
                $condition = str_replace('?', implode(', ', array_fill(0, max(1, count($value)), '?')), $condition);
                array_push($bind, ...($value === [] ? [null] : array_values($value)));
            } else {
                $bind[] = $value;
            }
            $parts[] = '(' . $condition . ')';
        }
        return [' WHERE ' . implode(' AND ', $parts), $bind];
    }

    private function run(string $sql, array $bind): \PDOStatement
    {
        try {
            $statement = $this->pdo->prepare($sql);
            $statement->execute(array_values($bind));
            return $statement;
        } catch (\PDOException $e) {
            if ($e->getCode() === '23000') {
                throw new DuplicateException($e->getMessage(), 0, $e);
            }
            throw $e;
        }
    }
}
