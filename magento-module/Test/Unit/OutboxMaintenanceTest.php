<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Unit;

use PHPUnit\Framework\TestCase;
use Tillbridge\Connector\Cron\CleanOutbox;
use Tillbridge\Connector\Cron\SendOutbox;
use Tillbridge\Connector\Model\Config;
use Tillbridge\Connector\Model\Http\Response;
use Tillbridge\Connector\Model\Outbox\OutboxEvent;
use Tillbridge\Connector\Model\Outbox\Resender;
use Tillbridge\Connector\Test\Support\Entities;
use Tillbridge\Connector\Test\Support\MemoryLocks;
use Tillbridge\Connector\Test\Support\World;

final class OutboxMaintenanceTest extends TestCase
{
    private World $world;

    protected function setUp(): void
    {
        $this->world = new World();
    }

    public function testResendQueuesAFailedRowAgainWithTheSameEventIdAndAFreshBudget(): void
    {
        $row = $this->world->writer->record('order.created', 'order', '1', 1, static fn (): array => ['entity_id' => 1]);
        $this->world->transport->push(new Response(401, '{"message":"signature does not match the body (check the shared secret)"}'));
        $this->world->sender->sendDue();
        self::assertSame(OutboxEvent::STATUS_FAILED, $this->world->row((int) $row?->id)->status);

        $queued = $this->resender()->resend([(int) $row?->id]);
        $this->world->sender->sendDue();

        self::assertSame(1, $queued);
        $stored = $this->world->row((int) $row?->id);
        self::assertSame(OutboxEvent::STATUS_SENT, $stored->status);
        self::assertSame(1, $stored->attempts);
        $ids = array_map(static fn (array $r): string => $r['headers']['webhook-id'], $this->world->transport->requests);
        self::assertSame([$row?->eventId, $row?->eventId], $ids);
    }

    public function testResendRendersARowWhoseRenderingHadFailed(): void
    {
        $row = $this->world->writer->record('order.created', 'order', '5', 1, static function (): array {
            throw new \RuntimeException('order 5 not found yet');
        });
        $this->world->orders->byId[5] = Entities::order(['entity_id' => 5, 'increment_id' => '000000005'], true);

        $this->resender()->resend([(int) $row?->id]);
        $this->world->sender->sendDue();

        $body = json_decode($this->world->transport->requests[0]['body'], true);
        self::assertSame('000000005', $body['data']['increment_id']);
        self::assertSame(OutboxEvent::STATUS_SENT, $this->world->row((int) $row?->id)->status);
    }

    public function testResendLeavesSentAndPendingRowsAlone(): void
    {
        $sent = $this->world->writer->record('order.created', 'order', '1', 1, static fn (): array => ['entity_id' => 1]);
        $this->world->sender->sendDue();
        $pending = $this->world->writer->record('order.created', 'order', '2', 1, static fn (): array => ['entity_id' => 2]);

        self::assertSame(0, $this->resender()->resend([(int) $sent?->id, (int) $pending?->id]));
        self::assertSame(1, $this->world->row((int) $sent?->id)->attempts);
    }

    public function testCleanupDeletesOnlySentRowsOlderThanTheRetention(): void
    {
        $this->world->scopeConfig->values[Config::XML_RETENTION_DAYS] = '3';
        $old = $this->world->writer->record('order.created', 'order', '1', 1, static fn (): array => ['entity_id' => 1]);
        $failed = $this->world->writer->record('order.created', 'order', '2', 1, static fn (): array => ['entity_id' => 2]);
        $this->world->transport->push(new Response(202, ''));
        $this->world->transport->push(new Response(400, '{"message":"bad envelope"}'));
        $this->world->sender->sendDue();
        $this->world->clock->advance(2 * 86400);
        $recent = $this->world->writer->record('order.created', 'order', '3', 1, static fn (): array => ['entity_id' => 3]);
        $this->world->sender->sendDue();
        $pending = $this->world->writer->record('order.created', 'order', '4', 1, static fn (): array => ['entity_id' => 4]);
        $this->world->clock->advance(86400 + 60);

        $deleted = (new CleanOutbox($this->world->outbox, $this->world->config, $this->world->clock))->execute();

        self::assertSame(1, $deleted);
        $left = array_map(static fn (OutboxEvent $e): string => $e->entityRef, $this->world->rows());
        self::assertSame([(string) $failed?->entityRef, (string) $recent?->entityRef, (string) $pending?->entityRef], $left);
        self::assertNotContains((string) $old?->entityRef, $left);
    }

    public function testCronSkipsARunWhileThePreviousOneStillHoldsTheLock(): void
    {
        $this->world->writer->record('order.created', 'order', '1', 1, static fn (): array => ['entity_id' => 1]);
        $locks = new MemoryLocks();
        $cron = new SendOutbox($this->world->sender, $locks, $this->world->logger);

        $locks->lock('tillbridge_connector_outbox_send');
        $cron->execute();
        self::assertSame([], $this->world->transport->requests);

        $locks->unlock('tillbridge_connector_outbox_send');
        $cron->execute();
        self::assertCount(1, $this->world->transport->requests);
        self::assertFalse($locks->isLocked('tillbridge_connector_outbox_send'));
        self::assertStringContainsString('info: Tillbridge outbox: sent 1, retrying 0, failed 0', $this->world->logger->text());
    }

    public function testStatusCountsForMonitoring(): void
    {
        $this->world->writer->record('order.created', 'order', '1', 1, static fn (): array => ['entity_id' => 1]);
        $this->world->writer->record('order.created', 'order', '2', 1, static fn (): array => ['entity_id' => 2]);
        $this->world->transport->push(new Response(422, '{"message":"card number"}'));
        $this->world->sender->sendDue();
        $this->world->writer->record('order.created', 'order', '3', 1, static fn (): array => ['entity_id' => 3]);

        self::assertSame(['failed' => 1, 'pending' => 1, 'sent' => 1], $this->world->outbox->countByStatus());
    }

    private function resender(): Resender
    {
        return new Resender($this->world->outbox, $this->world->renderer, $this->world->clock);
    }
}
