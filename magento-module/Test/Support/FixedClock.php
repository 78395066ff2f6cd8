<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

use Tillbridge\Connector\Model\Clock;

/** A clock the test moves by hand. */
final class FixedClock extends Clock
{
    public function __construct(public int $now = 1_790_000_000)
    {
    }

    public function now(): int
    {
        return $this->now;
    }

    public function advance(int $seconds): void
    {
        $this->now += $seconds;
    }
}
