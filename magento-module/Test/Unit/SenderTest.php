<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Unit;

use PHPUnit\Framework\TestCase;
use Tillbridge\Connector\Model\Config;
use Tillbridge\Connector\Model\Http\Response;
use Tillbridge\Connector\Model\Http\TransportException;
use Tillbridge\Connector\Model\Outbox\OutboxEvent;
use Tillbridge\Connector\Model\Signature;
use Tillbridge\Connector\Test\Support\World;

final class SenderTest extends TestCase
{
    private World $world;

    protected function setUp(): void
    {
        $this->world = new World();
    }

    public function testSendsTheEnvelopeSignedToTheWebhookUrlAndMarksItSent(): void
    {
        $row = $this->record('order.created', '42', ['entity_id' => 42, 'grand_total' => 12.5]);
        $this->world->clock->advance(3);

        $report = $this->world->sender->sendDue();

        self::assertSame(1, $report->sent);
        $request = $this->world->transport->requests[0];
        self::assertSame('https://tillbridge.example.test/webhooks/magento', $request['url']);
        self::assertSame(10, $request['timeout']);
        $expectedBody = '{"event":"order.created","occurred_at":"2026-09-21T14:13:20+00:00","store_code":"default",'
            . '"data":{"entity_id":42,"grand_total":12.5}}';
        self::assertSame($expectedBody, $request['body']);
        self::assertSame('application/json', $request['headers']['Content-Type']);
        self::assertSame((string) $this->world->clock->now, $request['headers']['webhook-timestamp']);
        self::assertSame($row->eventId, $request['headers']['webhook-id']);
        self::assertSame(
            'v1,' . base64_encode(hash_hmac('sha256', $row->eventId . '.' . $this->world->clock->now . '.' . $expectedBody,
                World::SECRET, true)),
            $request['headers']['webhook-signature']
        );
        $stored = $this->world->row((int) $row->id);
        self::assertSame(OutboxEvent::STATUS_SENT, $stored->status);
        self::assertSame(1, $stored->attempts);
        self::assertSame(202, $stored->lastHttpStatus);
        self::assertSame('2026-09-21 14:13:23', $stored->sentAt);
    }

    public function testAnAlreadySeenEventCountsAsDelivered(): void
    {
        $row = $this->record('order.updated', '1', ['entity_id' => 1]);
        $this->world->transport->push(new Response(200, '{"status":"duplicate"}'));

        $this->world->sender->sendDue();

        self::assertSame(OutboxEvent::STATUS_SENT, $this->world->row((int) $row->id)->status);
    }

    public function testRowsGoOldestFirstAndOnlyABatchPerRun(): void
    {
        $this->world->scopeConfig->values[Config::XML_BATCH_SIZE] = '2';
        foreach (['1', '2', '3'] as $ref) {
            $this->record('order.created', $ref, ['entity_id' => (int) $ref]);
        }

        $first = $this->world->sender->sendDue();
        $second = $this->world->sender->sendDue();

        self::assertSame([2, 1], [$first->sent, $second->sent]);
        self::assertSame(['1', '2', '3'], array_map(
            static fn (array $r): string => (string) json_decode($r['body'], true)['data']['entity_id'],
            $this->world->transport->requests
        ));
    }

    public function testDrainSendsBatchAfterBatchUntilTheBacklogIsGone(): void
    {
        $this->world->scopeConfig->values[Config::XML_BATCH_SIZE] = '2';
        foreach (['1', '2', '3', '4', '5'] as $ref) {
            $this->record('order.created', $ref, ['entity_id' => (int) $ref]);
        }

        $report = $this->world->sender->drain(45);

        self::assertSame(5, $report->sent);
        self::assertCount(5, $this->world->transport->requests);
    }

    public function testDrainStopsWhenTillbridgeIsDown(): void
    {
        $this->world->scopeConfig->values[Config::XML_BATCH_SIZE] = '2';
        foreach (['1', '2', '3', '4', '5'] as $ref) {
            $this->record('order.created', $ref, ['entity_id' => (int) $ref]);
        }
        $this->world->transport->push(new Response(202, ''));
        $this->world->transport->push(new Response(202, ''));
        $this->world->transport->push(new Response(503, ''));

        $report = $this->world->sender->drain(45);

        self::assertSame([2, 1], [$report->sent, $report->retrying]);
        self::assertCount(3, $this->world->transport->requests);
        self::assertStringContainsString('Tillbridge unavailable', $report->stopReason);
    }

    public function testDrainRespectsItsTimeBudget(): void
    {
        $this->world->scopeConfig->values[Config::XML_BATCH_SIZE] = '2';
        foreach (['1', '2', '3', '4', '5'] as $ref) {
            $this->record('order.created', $ref, ['entity_id' => (int) $ref]);
        }

        $report = $this->world->sender->drain(0);

        self::assertSame(2, $report->sent, 'one batch, then the budget is spent');
    }

    /** @dataProvider permanentAnswers */
    public function testAnAnswerThatRepeatingCannotFixFailsTheRowAtOnce(int $status, string $body, string $expected): void
    {
        $row = $this->record('customer.created', '3', ['id' => 3]);
        $this->record('customer.created', '4', ['id' => 4]);
        $this->world->transport->push(new Response($status, $body));

        $report = $this->world->sender->sendDue();

        $stored = $this->world->row((int) $row->id);
        self::assertSame(OutboxEvent::STATUS_FAILED, $stored->status);
        self::assertSame($status, $stored->lastHttpStatus);
        self::assertSame(1, $stored->attempts);
        self::assertSame($expected, $stored->lastError);
        self::assertNull($stored->nextAttemptAt);
        self::assertSame(1, $report->failed);
        self::assertSame(1, $report->sent, 'the next row is still sent');
        self::assertStringContainsString('failed: ' . $expected, $this->world->logger->text());
    }

    /** @return array<string, array{int, string, string}> */
    public static function permanentAnswers(): array
    {
        return [
            'bad signature' => [401, '{"error":"bad_signature","message":"signature does not match the body (check the shared secret)"}',
                'HTTP 401 from Tillbridge: signature does not match the body (check the shared secret)'],
            'bad envelope' => [400, '{"error":"invalid_envelope","message":"the event envelope is not valid: data: [\'the entity has no entity_id or id\']"}',
                'HTTP 400 from Tillbridge: the event envelope is not valid: data: [\'the entity has no entity_id or id\']'],
            'card number' => [422, '{"error":"card_number_refused","message":"the event contains a card number"}',
                'HTTP 422 from Tillbridge: the event contains a card number'],
            'not found (wrong URL)' => [404, '<html>Not Found</html>', 'HTTP 404 from Tillbridge: <html>Not Found</html>'],
            'redirect' => [301, '', 'HTTP 301 from Tillbridge: (empty body)'],
        ];
    }

    /** @dataProvider retryableAnswers */
    public function testServerErrorsTimeoutsAndRateLimitsAreRetriedLater(Response|TransportException $answer, string $expected, int $delay): void
    {
        $row = $this->record('order.created', '1', ['entity_id' => 1]);
        $this->world->transport->push($answer);

        $report = $this->world->sender->sendDue();

        $stored = $this->world->row((int) $row->id);
        self::assertSame(OutboxEvent::STATUS_PENDING, $stored->status);
        self::assertSame(1, $stored->attempts);
        self::assertSame($expected, $stored->lastError);
        self::assertSame($this->world->clock->format($this->world->clock->now + $delay), $stored->nextAttemptAt);
        self::assertSame(1, $report->retrying);
    }

    /** @return array<string, array{Response|TransportException, string, int}> */
    public static function retryableAnswers(): array
    {
        return [
            '500' => [new Response(500, '{"error":"internal","message":"database is locked"}'), 'HTTP 500 from Tillbridge: database is locked', 60],
            '503' => [new Response(503, 'Service Unavailable'), 'HTTP 503 from Tillbridge: Service Unavailable', 60],
            '408' => [new Response(408, ''), 'HTTP 408 from Tillbridge: (empty body)', 60],
            '429 with Retry-After' => [new Response(429, '', ['retry-after' => '120']), 'HTTP 429 from Tillbridge: (empty body)', 120],
            'network' => [new TransportException('no answer from https://tillbridge.example.test/webhooks/magento: Connection refused'),
                'no answer from https://tillbridge.example.test/webhooks/magento: Connection refused', 60],
        ];
    }

    public function testBacksOffExponentiallyThenFailsAtTheAttemptLimit(): void
    {
        $this->world->scopeConfig->values[Config::XML_MAX_ATTEMPTS] = '5';
        $row = $this->record('order.created', '1', ['entity_id' => 1]);
        $waits = [];
        for ($attempt = 1; $attempt <= 5; $attempt++) {
            $this->world->transport->push(new Response(502, 'Bad Gateway'));
            $before = $this->world->clock->now;
            self::assertSame(0, $this->world->sender->sendDue()->sent);
            $stored = $this->world->row((int) $row->id);
            self::assertSame($attempt, $stored->attempts);
            if ($stored->status === OutboxEvent::STATUS_FAILED) {
                break;
            }
            $next = (new \DateTimeImmutable((string) $stored->nextAttemptAt, new \DateTimeZone('UTC')))->getTimestamp();
            $waits[] = $next - $before;
            // Not due yet: a run just before the time does nothing.
            $this->world->clock->now = $next - 1;
            $this->world->sender->sendDue();
            self::assertCount($attempt, $this->world->transport->requests);
            $this->world->clock->now = $next;
        }

        self::assertSame([60, 120, 240, 480], $waits);
        $stored = $this->world->row((int) $row->id);
        self::assertSame(OutboxEvent::STATUS_FAILED, $stored->status);
        self::assertSame(5, $stored->attempts);
        self::assertSame('Gave up after 5 attempts; last error: HTTP 502 from Tillbridge: Bad Gateway', $stored->lastError);
        self::assertSame(502, $stored->lastHttpStatus);
        $this->world->clock->advance(86400);
        $this->world->sender->sendDue();
        self::assertCount(5, $this->world->transport->requests, 'a failed row is not sent again until resent');
    }

    public function testWhenTillbridgeIsDownTheRowsBehindDoNotBurnAttempts(): void
    {
        $first = $this->record('order.created', '1', ['entity_id' => 1]);
        $second = $this->record('order.created', '2', ['entity_id' => 2]);
        $this->world->transport->push(new TransportException('no answer: Connection refused'));

        $report = $this->world->sender->sendDue();

        self::assertSame(1, $report->retrying);
        self::assertStringContainsString('Tillbridge unavailable', $report->stopReason);
        self::assertCount(1, $this->world->transport->requests);
        self::assertSame(1, $this->world->row((int) $first->id)->attempts);
        self::assertSame(0, $this->world->row((int) $second->id)->attempts);
    }

    public function testAnEntityWaitsBehindItsOwnOlderEventButOtherEntitiesDoNot(): void
    {
        $orderFirst = $this->record('order.created', '1', ['entity_id' => 1, 'status' => 'pending']);
        $this->world->transport->push(new Response(503, ''));
        $this->world->sender->sendDue();
        $orderLater = $this->record('order.updated', '1', ['entity_id' => 1, 'status' => 'processing']);
        $other = $this->record('order.created', '2', ['entity_id' => 2]);

        $this->world->clock->advance(10);
        $this->world->sender->sendDue();

        self::assertSame(OutboxEvent::STATUS_PENDING, $this->world->row((int) $orderLater->id)->status);
        self::assertSame(OutboxEvent::STATUS_SENT, $this->world->row((int) $other->id)->status);

        $this->world->clock->advance(60);
        $this->world->sender->sendDue();

        self::assertSame(OutboxEvent::STATUS_SENT, $this->world->row((int) $orderFirst->id)->status);
        self::assertSame(OutboxEvent::STATUS_SENT, $this->world->row((int) $orderLater->id)->status);
        $sent = array_map(static fn (array $r): string => $r['headers'][Signature::ID_HEADER], $this->world->transport->requests);
        self::assertSame([$orderFirst->eventId, $other->eventId, $orderFirst->eventId, $orderLater->eventId], $sent);
    }

    public function testNothingIsSentWhileDisabledOrUnconfigured(): void
    {
        $this->record('order.created', '1', ['entity_id' => 1]);
        $this->world->scopeConfig->values[Config::XML_ENABLED] = '0';
        self::assertSame('forwarding is disabled', $this->world->sender->sendDue()->stopReason);

        $this->world->scopeConfig->values[Config::XML_ENABLED] = '1';
        $this->world->scopeConfig->values[Config::XML_SECRET] = '';
        $report = $this->world->sender->sendDue();

        self::assertStringContainsString('shared secret', $report->stopReason);
        self::assertSame([], $this->world->transport->requests);
        self::assertStringContainsString('warning: Tillbridge: outbox not sent', $this->world->logger->text());
    }

    public function testTheSecretNeverAppearsInLogsOrStoredErrors(): void
    {
        $row = $this->record('order.created', '1', ['entity_id' => 1]);
        $this->world->transport->push(new Response(401, '{"message":"signature does not match"}'));

        $this->world->sender->sendDue();

        self::assertStringNotContainsString(World::SECRET, $this->world->logger->text());
        self::assertStringNotContainsString(World::SECRET, (string) $this->world->row((int) $row->id)->lastError);
    }

    /** @param array<string, mixed> $data */
    private function record(string $event, string $ref, array $data): OutboxEvent
    {
        $row = $this->world->writer->record($event, explode('.', $event)[0], $ref, 1, static fn (): array => $data);
        self::assertNotNull($row);
        return $row;
    }
}
