<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

use Magento\Framework\App\ResourceConnection;
use Magento\Framework\Webapi\ServiceOutputProcessor;
use Tillbridge\Connector\Model\Config;
use Tillbridge\Connector\Model\LoopGuard;
use Tillbridge\Connector\Model\Outbox\EventIdGenerator;
use Tillbridge\Connector\Model\Outbox\OutboxEvent;
use Tillbridge\Connector\Model\Outbox\OutboxRepository;
use Tillbridge\Connector\Model\Outbox\RetrySchedule;
use Tillbridge\Connector\Model\Outbox\Sender;
use Tillbridge\Connector\Model\Outbox\Writer;
use Tillbridge\Connector\Model\Payload\EntityRenderer;

/**
 * The module's real classes wired together over SQLite, with Magento's parts replaced by the
 * doubles in Test/Double and Test/Support.
 */
final class World
{
    public const SECRET = 'whsec-test-ü';
    public const URL = 'https://tillbridge.example.test';

    public readonly SqliteAdapter $db;
    public readonly ResourceConnection $resource;
    public readonly ArrayScopeConfig $scopeConfig;
    public readonly ReversibleEncryptor $encryptor;
    public readonly Config $config;
    public readonly FixedClock $clock;
    public readonly StaticUserContext $user;
    public readonly RecordingLogger $logger;
    public readonly OutboxRepository $outbox;
    public readonly Orders $orders;
    public readonly Customers $customers;
    public readonly Creditmemos $creditmemos;
    public readonly Products $products;
    public readonly EntityRenderer $renderer;
    public readonly Writer $writer;
    public readonly ScriptedTransport $transport;
    public readonly Sender $sender;

    public function __construct()
    {
        $this->db = new SqliteAdapter();
        $this->resource = new ResourceConnection($this->db);
        $this->encryptor = new ReversibleEncryptor();
        $this->scopeConfig = new ArrayScopeConfig([
            Config::XML_ENABLED => '1',
            Config::XML_URL => self::URL . '/',
            Config::XML_SECRET => $this->encryptor->encrypt(self::SECRET),
            Config::XML_INTEGRATION_ID => '7',
        ]);
        $this->config = new Config($this->scopeConfig, $this->encryptor);
        $this->clock = new FixedClock();
        $this->user = new StaticUserContext();
        $this->logger = new RecordingLogger();
        $this->outbox = new OutboxRepository($this->resource);
        $this->orders = new Orders();
        $this->customers = new Customers();
        $this->creditmemos = new Creditmemos();
        $this->products = new Products();
        $this->renderer = new EntityRenderer(
            new ServiceOutputProcessor(),
            $this->orders,
            $this->customers,
            $this->creditmemos,
            $this->products
        );
        $this->writer = new Writer(
            $this->outbox,
            $this->config,
            new LoopGuard($this->user, $this->config),
            new EventIdGenerator(),
            $this->clock,
            new Stores(),
            $this->logger
        );
        $this->transport = new ScriptedTransport();
        $this->sender = new Sender($this->outbox, $this->config, $this->transport, new RetrySchedule(), $this->clock, $this->logger);
    }

    /** @return list<OutboxEvent> every outbox row, oldest first */
    public function rows(): array
    {
        return array_map(
            [OutboxEvent::class, 'fromRow'],
            $this->db->fetchAll('SELECT * FROM tillbridge_outbox ORDER BY entity_id')
        );
    }

    public function row(int $id): OutboxEvent
    {
        return $this->outbox->getById($id);
    }
}
