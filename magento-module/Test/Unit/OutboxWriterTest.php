<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Unit;

use PHPUnit\Framework\TestCase;
use Tillbridge\Connector\Model\Config;
use Tillbridge\Connector\Model\Outbox\OutboxEvent;
use Tillbridge\Connector\Test\Support\World;

final class OutboxWriterTest extends TestCase
{
    private World $world;

    protected function setUp(): void
    {
        $this->world = new World();
    }

    public function testWritesAPendingRowWithUuidTimeStoreAndRenderedEntity(): void
    {
        $this->world->clock->now = 1790000000;

        $row = $this->world->writer->record('order.created', 'order', '42', 2, static fn (): array => ['entity_id' => 42, 'grand_total' => 10.0]);

        self::assertNotNull($row);
        $stored = $this->world->row((int) $row->id);
        self::assertMatchesRegularExpression('/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/', $stored->eventId);
        self::assertSame('order.created', $stored->eventName);
        self::assertSame('order', $stored->entityType);
        self::assertSame('42', $stored->entityRef);
        self::assertSame('french', $stored->storeCode);
        self::assertSame('{"entity_id":42,"grand_total":10.0}', $stored->payload);
        self::assertSame('2026-09-21 14:13:20', $stored->occurredAt);
        self::assertSame(OutboxEvent::STATUS_PENDING, $stored->status);
        self::assertSame(0, $stored->attempts);
        self::assertSame('2026-09-21 14:13:20', $stored->nextAttemptAt);
    }

    public function testEveryRowGetsItsOwnEventId(): void
    {
        $render = static fn (): array => ['entity_id' => 1];
        $ids = [];
        for ($i = 0; $i < 20; $i++) {
            $ids[] = $this->world->writer->record('order.updated', 'order', '1', 1, $render)?->eventId;
        }

        self::assertCount(20, array_unique($ids));
    }

    public function testNothingIsWrittenWhenForwardingIsDisabled(): void
    {
        $this->world->scopeConfig->values[Config::XML_ENABLED] = '0';

        $row = $this->world->writer->record('order.created', 'order', '1', 1, static fn (): array => ['entity_id' => 1]);

        self::assertNull($row);
        self::assertSame([], $this->world->rows());
    }

    public function testOnlyTheEventsChosenInConfigurationAreWritten(): void
    {
        $this->world->scopeConfig->values[Config::XML_EVENTS] = 'order.created,customer.created';

        $this->world->writer->record('order.created', 'order', '1', 1, static fn (): array => ['entity_id' => 1]);
        $this->world->writer->record('product.saved', 'product', '5', 0, static fn (): array => ['id' => 5]);
        $this->world->writer->record('customer.updated', 'customer', '3', 1, static fn (): array => ['id' => 3]);

        self::assertSame(['order.created'], array_map(static fn (OutboxEvent $e): string => $e->eventName, $this->world->rows()));
    }

    public function testARenderingFailureIsKeptAsAFailedRowForTheFailedList(): void
    {
        $row = $this->world->writer->record('product.saved', 'product', '9', 0, static function (): array {
            throw new \RuntimeException('The product that was requested doesn\'t exist.');
        });

        self::assertNotNull($row);
        $stored = $this->world->row((int) $row->id);
        self::assertSame(OutboxEvent::STATUS_FAILED, $stored->status);
        self::assertNull($stored->payload);
        self::assertStringContainsString('Could not render product 9', (string) $stored->lastError);
        self::assertStringContainsString('doesn\'t exist', (string) $stored->lastError);
        self::assertStringContainsString('Failed events', (string) $stored->lastError);
    }

    public function testAStorageFailureIsLoggedAndNeverThrownIntoTheSave(): void
    {
        $this->world->db->pdo->exec('DROP TABLE tillbridge_outbox');

        $row = $this->world->writer->record('order.created', 'order', '77', 1, static fn (): array => ['entity_id' => 77]);

        self::assertNull($row);
        self::assertStringContainsString('critical: Tillbridge: order.created for order 77 was not written to the outbox', $this->world->logger->text());
    }

    public function testEncryptedCardDataIsLeftOutOfThePayload(): void
    {
        $row = $this->world->writer->record('order.created', 'order', '3', 1, static fn (): array => [
            'entity_id' => 3,
            'payment' => ['method' => 'ccsave', 'cc_last4' => '1111', 'cc_number_enc' => '0:3:QUJDREVGRw=='],
        ]);

        self::assertSame('{"entity_id":3,"payment":{"method":"ccsave","cc_last4":"1111"}}', $this->world->row((int) $row?->id)->payload);
    }
}
