<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Cron;

use Magento\Framework\Lock\LockManagerInterface;
use Psr\Log\LoggerInterface;
use Tillbridge\Connector\Model\Outbox\Sender;

/**
 * Every minute: send due outbox rows, batch after batch for up to 45 seconds. A lock keeps a slow
 * run and the next one from sending the same rows twice.
 */
class SendOutbox
{
    private const LOCK = 'tillbridge_connector_outbox_send';
    /** Leaves room before the next minute's run. */
    public const BUDGET_SECONDS = 45;

    public function __construct(
        private readonly Sender $sender,
        private readonly LockManagerInterface $locks,
        private readonly LoggerInterface $logger
    ) {
    }

    public function execute(): void
    {
        if (!$this->locks->lock(self::LOCK, 0)) {
            return;
        }
        try {
            $report = $this->sender->drain(self::BUDGET_SECONDS);
            if ($report->sent + $report->retrying + $report->failed > 0) {
                $this->logger->info('Tillbridge outbox: ' . $report);
            }
        } finally {
            $this->locks->unlock(self::LOCK);
        }
    }
}
