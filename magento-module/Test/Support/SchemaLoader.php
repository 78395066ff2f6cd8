<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

/**
 * Turns the module's declarative schema (etc/db_schema.xml) into SQLite DDL, so the tests use the
 * tables exactly as declared.
 */
final class SchemaLoader
{
    private const XSI = 'http://www.w3.org/2001/XMLSchema-instance';

    /** @return list<string> */
    public static function createStatements(string $schemaFile): array
    {
        $statements = [];
        foreach (self::tables($schemaFile) as $table) {
            $columns = [];
            foreach ($table['columns'] as $column) {
                $columns[] = self::columnSql($column);
            }
            $statements[] = sprintf('CREATE TABLE %s (%s)', $table['name'], implode(', ', $columns));
            foreach ($table['unique'] as $name => $unique) {
                $statements[] = sprintf('CREATE UNIQUE INDEX %s ON %s (%s)', $name, $table['name'], implode(', ', $unique));
            }
            foreach ($table['index'] as $name => $index) {
                $statements[] = sprintf('CREATE INDEX %s ON %s (%s)', $name, $table['name'], implode(', ', $index));
            }
        }
        return $statements;
    }

    /**
     * @return list<array{name: string, columns: list<array<string, string>>, primary: list<string>,
     *     unique: array<string, list<string>>, index: array<string, list<string>>}>
     */
    public static function tables(string $schemaFile): array
    {
        $xml = simplexml_load_file($schemaFile);
        if ($xml === false) {
            throw new \RuntimeException('cannot parse ' . $schemaFile);
        }
        $tables = [];
        foreach ($xml->table as $table) {
            $entry = ['name' => (string) $table['name'], 'columns' => [], 'primary' => [], 'unique' => [], 'index' => []];
            foreach ($table->column as $column) {
                $attributes = ['type' => (string) $column->attributes(self::XSI)['type']];
                foreach ($column->attributes() as $name => $value) {
                    $attributes[$name] = (string) $value;
                }
                $entry['columns'][] = $attributes;
            }
            foreach ($table->constraint as $constraint) {
                $names = [];
                foreach ($constraint->column as $column) {
                    $names[] = (string) $column['name'];
                }
                $type = (string) $constraint->attributes(self::XSI)['type'];
                if ($type === 'primary') {
                    $entry['primary'] = $names;
                } elseif ($type === 'unique') {
                    $entry['unique'][(string) $constraint['referenceId']] = $names;
                }
            }
            foreach ($table->index as $index) {
                $names = [];
                foreach ($index->column as $column) {
                    $names[] = (string) $column['name'];
                }
                $entry['index'][(string) $index['referenceId']] = $names;
            }
            $tables[] = $entry;
        }
        return $tables;
    }

    /** @param array<string, string> $column */
    private static function columnSql(array $column): string
    {
        if (($column['identity'] ?? '') === 'true') {
            return $column['name'] . ' INTEGER PRIMARY KEY AUTOINCREMENT';
        }
        $type = match ($column['type']) {
            'int', 'smallint', 'bigint', 'boolean' => 'INTEGER',
            'decimal', 'float' => 'NUMERIC',
            default => 'TEXT',
        };
        $sql = $column['name'] . ' ' . $type;
        if (($column['nullable'] ?? 'true') === 'false') {
            $sql .= ' NOT NULL';
        }
        if (isset($column['default'])) {
            $sql .= $column['default'] === 'CURRENT_TIMESTAMP'
                ? ' DEFAULT CURRENT_TIMESTAMP'
                : ' DEFAULT ' . (is_numeric($column['default']) ? $column['default'] : "'" . $column['default'] . "'");
        }
        return $sql;
    }
}
