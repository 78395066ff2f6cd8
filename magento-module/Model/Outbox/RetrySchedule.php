<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\Outbox;

/**
 * Exponential backoff between delivery attempts: 1, 2, 4, 8, 16, 32 minutes, then hourly.
 */
class RetrySchedule
{
    public const BASE_SECONDS = 60;
    public const CAP_SECONDS = 3600;

    /** Seconds to wait after the given number of failed attempts (1 = the first failure). */
    public function delayAfter(int $failedAttempts, ?int $retryAfterSeconds = null): int
    {
        $exponent = max(0, min($failedAttempts - 1, 30));
        $delay = min(self::BASE_SECONDS * (2 ** $exponent), self::CAP_SECONDS);
        if ($retryAfterSeconds !== null && $retryAfterSeconds > $delay) {
            $delay = min($retryAfterSeconds, self::CAP_SECONDS);
        }
        return (int) $delay;
    }
}
