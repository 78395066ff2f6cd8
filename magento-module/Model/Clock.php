<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model;

/**
 * Current time in UTC; the outbox stores and compares 'Y-m-d H:i:s' UTC strings.
 */
class Clock
{
    public const FORMAT = 'Y-m-d H:i:s';

    public function now(): int
    {
        return time();
    }

    public function format(int $timestamp): string
    {
        return gmdate(self::FORMAT, $timestamp);
    }
}
