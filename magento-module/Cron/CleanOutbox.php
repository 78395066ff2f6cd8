<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Cron;

use Tillbridge\Connector\Model\Clock;
use Tillbridge\Connector\Model\Config;
use Tillbridge\Connector\Model\Outbox\OutboxRepository;

/**
 * Nightly: delete sent rows older than the retention period. Pending and failed rows stay.
 */
class CleanOutbox
{
    public function __construct(
        private readonly OutboxRepository $repository,
        private readonly Config $config,
        private readonly Clock $clock
    ) {
    }

    public function execute(): int
    {
        $cutoff = $this->clock->now() - $this->config->getRetentionDays() * 86400;
        return $this->repository->deleteSentBefore($this->clock->format($cutoff));
    }
}
