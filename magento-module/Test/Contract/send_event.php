<?php
declare(strict_types=1);

/*
 * Sends one event to a running Tillbridge service with the module's real writer, sender, signature
 * and curl transport (the outbox lives in an in-memory SQLite database built from db_schema.xml),
 * then prints the outbox row as JSON. Used by tests/php/test_contract.py.
 *
 *   php send_event.php --url=http://127.0.0.1:8000 --secret=S [--event=order.created]
 *       [--data='{"entity_id":1,...}'] [--store=default] [--timeout=10] [--tamper] [--twice]
 *
 * --tamper changes the body after signing; --twice sends the same event (same ID) again.
 * --count=N [--batch=B] writes N events (entity_id 1..N) and runs the sender until the outbox is
 * drained, then prints the event IDs in outbox order, the status counts, cron runs and seconds.
 */

use Magento\Framework\App\ResourceConnection;
use Tillbridge\Connector\Model\Clock;
use Tillbridge\Connector\Model\Config;
use Tillbridge\Connector\Model\Http\CurlTransport;
use Tillbridge\Connector\Model\LoopGuard;
use Tillbridge\Connector\Model\Outbox\EventIdGenerator;
use Tillbridge\Connector\Model\Outbox\OutboxEvent;
use Tillbridge\Connector\Model\Outbox\OutboxRepository;
use Tillbridge\Connector\Model\Outbox\RetrySchedule;
use Tillbridge\Connector\Model\Outbox\Sender;
use Tillbridge\Connector\Model\Outbox\Writer;
use Tillbridge\Connector\Test\Contract\TamperingTransport;
use Tillbridge\Connector\Test\Support\ArrayScopeConfig;
use Tillbridge\Connector\Test\Support\RecordingLogger;
use Tillbridge\Connector\Test\Support\ReversibleEncryptor;
use Tillbridge\Connector\Test\Support\SqliteAdapter;
use Tillbridge\Connector\Test\Support\StaticUserContext;
use Tillbridge\Connector\Test\Support\Stores;

require dirname(__DIR__) . '/bootstrap.php';

$options = getopt('', ['url:', 'secret:', 'event::', 'data::', 'store::', 'timeout::', 'count::', 'batch::', 'tamper', 'twice']);
if (!isset($options['url'], $options['secret'])) {
    fwrite(STDERR, "usage: php send_event.php --url=URL --secret=SECRET [--event=NAME] [--data=JSON] [--store=CODE] [--timeout=S] [--tamper] [--twice]\n");
    exit(2);
}
$event = (string) ($options['event'] ?? 'order.created');
$data = json_decode((string) ($options['data'] ?? '{"entity_id":1001,"increment_id":"000001001","grand_total":59.9}'), true, 512, JSON_THROW_ON_ERROR);
$storeId = ['admin' => 0, 'default' => 1, 'french' => 2][(string) ($options['store'] ?? 'default')] ?? 1;

$db = new SqliteAdapter();
$resource = new ResourceConnection($db);
$encryptor = new ReversibleEncryptor();
$config = new Config(new ArrayScopeConfig([
    Config::XML_ENABLED => '1',
    Config::XML_URL => (string) $options['url'],
    Config::XML_SECRET => $encryptor->encrypt((string) $options['secret']),
    Config::XML_TIMEOUT => (string) ($options['timeout'] ?? '10'),
    Config::XML_BATCH_SIZE => (string) ($options['batch'] ?? '50'),
]), $encryptor);
$clock = new Clock();
$logger = new RecordingLogger();
$repository = new OutboxRepository($resource);
$writer = new Writer($repository, $config, new LoopGuard(new StaticUserContext(), $config), new EventIdGenerator(), $clock, new Stores(), $logger);
$transport = new CurlTransport();
$sender = new Sender(
    $repository,
    $config,
    isset($options['tamper']) ? new TamperingTransport($transport) : $transport,
    new RetrySchedule(),
    $clock,
    $logger
);

$count = (int) ($options['count'] ?? 1);
if ($count > 1) {
    $eventIds = [];
    for ($i = 1; $i <= $count; $i++) {
        $eventIds[] = $writer->record($event, explode('.', $event)[0], (string) $i, $storeId, static fn (): array => ['entity_id' => $i] + $data)?->eventId;
    }
    $started = microtime(true);
    $runs = 0;
    do {
        $report = $sender->sendDue();
        $runs++;
    } while ($report->sent > 0 && $report->stopReason === '' && $runs < $count + 1);
    echo json_encode([
        'event_ids' => $eventIds,
        'statuses' => $repository->countByStatus(),
        'runs' => $runs,
        'seconds' => round(microtime(true) - $started, 3),
        'log' => $logger->lines,
    ], JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES), "\n";
    exit(0);
}

$row = $writer->record($event, explode('.', $event)[0], (string) ($data['entity_id'] ?? $data['id'] ?? '0'), $storeId, static fn (): array => $data);
if ($row === null) {
    fwrite(STDERR, "the event was not written to the outbox:\n" . $logger->text() . "\n");
    exit(1);
}

$attempts = [];
$rounds = isset($options['twice']) ? 2 : 1;
for ($round = 1; $round <= $rounds; $round++) {
    if ($round > 1) {
        $db->update(OutboxRepository::TABLE, ['status' => OutboxEvent::STATUS_PENDING, 'next_attempt_at' => $clock->format($clock->now())], ['entity_id = ?' => $row->id]);
    }
    $report = $sender->sendDue();
    $stored = $repository->getById((int) $row->id);
    $attempts[] = [
        'report' => (string) $report,
        'status' => $stored->status,
        'http_status' => $stored->lastHttpStatus,
        'attempts' => $stored->attempts,
        'last_error' => $stored->lastError,
        'retry_in_seconds' => $stored->nextAttemptAt === null || $stored->status !== OutboxEvent::STATUS_PENDING
            ? null
            : strtotime($stored->nextAttemptAt . ' UTC') - $clock->now(),
    ];
}

echo json_encode(['event_id' => $row->eventId, 'rounds' => $attempts, 'log' => $logger->lines], JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES), "\n";
