<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Unit;

use Magento\Framework\Event;
use Magento\Framework\Event\Observer;
use PHPUnit\Framework\TestCase;
use Tillbridge\Connector\Model\Outbox\OutboxEvent;
use Tillbridge\Connector\Observer\CreditmemoSaved;
use Tillbridge\Connector\Observer\CustomerSaved;
use Tillbridge\Connector\Observer\OrderPlaced;
use Tillbridge\Connector\Observer\OrderSaved;
use Tillbridge\Connector\Observer\ProductSaved;
use Tillbridge\Connector\Test\Support\Entities;
use Tillbridge\Connector\Test\Support\PaymentModel;
use Tillbridge\Connector\Test\Support\World;

final class ObserversTest extends TestCase
{
    private World $world;

    protected function setUp(): void
    {
        $this->world = new World();
    }

    public function testOrderPlacedWritesTheOrderAsGetOrdersReturnsIt(): void
    {
        $placed = Entities::order(['entity_id' => 42, 'increment_id' => '000000042', 'grand_total' => 59.9, 'customer_email' => 'ann@example.com']);
        // The repository's copy has what REST adds on load (here: the payment).
        $loaded = Entities::order([
            'entity_id' => 42,
            'increment_id' => '000000042',
            'grand_total' => 59.9,
            'customer_email' => 'ann@example.com',
            'payment' => new PaymentModel(['method' => 'checkmo']),
        ], true);
        $this->world->orders->byId[42] = $loaded;

        $this->dispatch(new OrderPlaced($this->world->writer, $this->world->renderer), ['order' => $placed, 'quote' => new \stdClass()]);

        $rows = $this->world->rows();
        self::assertCount(1, $rows);
        self::assertSame('order.created', $rows[0]->eventName);
        self::assertSame('default', $rows[0]->storeCode);
        self::assertSame(
            ['entity_id' => 42, 'increment_id' => '000000042', 'store_id' => 1, 'state' => 'new', 'status' => 'pending',
                'grand_total' => 59.9, 'customer_email' => 'ann@example.com', 'payment' => ['method' => 'checkmo']],
            json_decode((string) $rows[0]->payload, true)
        );
    }

    public function testMultishippingWritesOneEventPerOrder(): void
    {
        $orders = [];
        foreach ([5, 6, 7] as $id) {
            $orders[] = Entities::order(['entity_id' => $id]);
            $this->world->orders->byId[$id] = Entities::order(['entity_id' => $id, 'increment_id' => '00000000' . $id], true);
        }

        $this->dispatch(new OrderPlaced($this->world->writer, $this->world->renderer), ['orders' => $orders, 'quote' => new \stdClass()]);

        self::assertSame(['5', '6', '7'], array_map(static fn (OutboxEvent $e): string => $e->entityRef, $this->world->rows()));
        self::assertSame(['order.created'], array_values(array_unique(array_map(static fn (OutboxEvent $e): string => $e->eventName, $this->world->rows()))));
    }

    public function testOrderSavedWritesAnUpdateForAnOrderLoadedFromTheDatabase(): void
    {
        $order = Entities::order(['entity_id' => 8, 'status' => 'complete', 'state' => 'complete'], true);
        $this->world->orders->byId[8] = $order;

        $this->dispatch(new OrderSaved($this->world->writer, $this->world->renderer), ['order' => $order, 'data_object' => $order]);

        $rows = $this->world->rows();
        self::assertCount(1, $rows);
        self::assertSame('order.updated', $rows[0]->eventName);
        self::assertSame('complete', json_decode((string) $rows[0]->payload, true)['status']);
    }

    public function testOrderSavedLeavesANewOrderToCheckout(): void
    {
        $order = Entities::order(['entity_id' => 9]);
        $this->world->orders->byId[9] = $order;

        $this->dispatch(new OrderSaved($this->world->writer, $this->world->renderer), ['order' => $order, 'data_object' => $order]);

        self::assertSame([], $this->world->rows());
    }

    public function testCustomerCreatedAndUpdatedAreToldApartByTheOriginalDataObject(): void
    {
        $observer = new CustomerSaved($this->world->writer, $this->world->renderer);
        $created = Entities::customer(['id' => 3, 'email' => 'ann@example.com', 'firstname' => 'Ann', 'lastname' => 'Lee', 'store_id' => 2]);
        $changed = Entities::customer(['id' => 3, 'email' => 'ann.lee@example.com', 'firstname' => 'Ann', 'lastname' => 'Lee', 'store_id' => 2]);

        $this->dispatch($observer, ['customer_data_object' => $created, 'orig_customer_data_object' => null, 'delegate_data' => []]);
        $this->dispatch($observer, ['customer_data_object' => $changed, 'orig_customer_data_object' => $created, 'delegate_data' => []]);

        $rows = $this->world->rows();
        self::assertSame(['customer.created', 'customer.updated'], [$rows[0]->eventName, $rows[1]->eventName]);
        self::assertSame('french', $rows[0]->storeCode);
        self::assertSame(
            ['id' => 3, 'email' => 'ann.lee@example.com', 'firstname' => 'Ann', 'lastname' => 'Lee', 'store_id' => 2, 'website_id' => 1],
            json_decode((string) $rows[1]->payload, true)
        );
    }

    public function testCreditmemoIsWrittenOnceWhenCreatedAndNotOnLaterSaves(): void
    {
        $observer = new CreditmemoSaved($this->world->writer, $this->world->renderer);
        $new = Entities::creditmemo(['entity_id' => 4, 'order_id' => 42, 'grand_total' => 20.0]);
        $loaded = Entities::creditmemo(['entity_id' => 4, 'order_id' => 42, 'grand_total' => 20.0], true);

        $this->dispatch($observer, ['creditmemo' => $new, 'data_object' => $new]);
        $this->dispatch($observer, ['creditmemo' => $new, 'data_object' => $new]);
        $this->dispatch($observer, ['creditmemo' => $loaded, 'data_object' => $loaded]);

        $rows = $this->world->rows();
        self::assertCount(1, $rows);
        self::assertSame('creditmemo.created', $rows[0]->eventName);
        self::assertSame(['entity_id' => 4, 'order_id' => 42, 'store_id' => 1, 'grand_total' => 20.0], json_decode((string) $rows[0]->payload, true));
    }

    public function testProductSavedRendersTheProductReloadedThroughTheRepository(): void
    {
        $this->world->products->byId[15] = Entities::product(['entity_id' => 15, 'sku' => 'AB-1', 'name' => 'Mug', 'price' => 12.0]);
        $saved = Entities::product(['entity_id' => 15, 'sku' => 'AB-1', 'name' => 'Mug (stale)']);

        $this->dispatch(new ProductSaved($this->world->writer, $this->world->renderer), ['product' => $saved, 'data_object' => $saved]);

        $rows = $this->world->rows();
        self::assertSame('product.saved', $rows[0]->eventName);
        self::assertSame('admin', $rows[0]->storeCode);
        self::assertSame(['id' => 15, 'sku' => 'AB-1', 'name' => 'Mug', 'price' => 12.0, 'status' => 1], json_decode((string) $rows[0]->payload, true));
    }

    public function testAnEntityWithoutAnIdIsIgnored(): void
    {
        $this->dispatch(new OrderPlaced($this->world->writer, $this->world->renderer), ['order' => Entities::order([])]);
        $this->dispatch(new ProductSaved($this->world->writer, $this->world->renderer), ['product' => Entities::product(['sku' => 'X'])]);

        self::assertSame([], $this->world->rows());
    }

    public function testObserversNeverCallHttp(): void
    {
        $order = Entities::order(['entity_id' => 1], true);
        $this->world->orders->byId[1] = $order;

        $this->dispatch(new OrderPlaced($this->world->writer, $this->world->renderer), ['order' => $order]);
        $this->dispatch(new OrderSaved($this->world->writer, $this->world->renderer), ['order' => $order]);

        self::assertCount(2, $this->world->rows());
        self::assertSame([], $this->world->transport->requests);
    }

    /** @param array<string, mixed> $data */
    private function dispatch(object $observer, array $data): void
    {
        $observer->execute(new Observer(['event' => new Event($data)]));
    }
}
