<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Unit;

use PHPUnit\Framework\TestCase;
use Tillbridge\Connector\Model\Outbox\RetrySchedule;

final class RetryScheduleTest extends TestCase
{
    public function testDelaysDoubleFromOneMinuteAndStopAtAnHour(): void
    {
        $schedule = new RetrySchedule();
        $delays = array_map(static fn (int $attempt): int => $schedule->delayAfter($attempt), range(1, 10));

        self::assertSame([60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600], $delays);
    }

    public function testRetryAfterLengthensButNeverShortensTheWait(): void
    {
        $schedule = new RetrySchedule();

        self::assertSame(300, $schedule->delayAfter(1, 300));
        self::assertSame(240, $schedule->delayAfter(3, 5));
        self::assertSame(3600, $schedule->delayAfter(1, 86400));
    }
}
