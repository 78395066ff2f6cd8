<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\Outbox;

/**
 * What one cron run did, for the cron log and the tests.
 */
final class SendReport
{
    public int $sent = 0;
    public int $retrying = 0;
    public int $failed = 0;
    /** Why the run sent nothing or stopped early; '' when it went through the batch. */
    public string $stopReason = '';

    public function __toString(): string
    {
        return sprintf(
            'sent %d, retrying %d, failed %d%s',
            $this->sent,
            $this->retrying,
            $this->failed,
            $this->stopReason === '' ? '' : ' (' . $this->stopReason . ')'
        );
    }
}
