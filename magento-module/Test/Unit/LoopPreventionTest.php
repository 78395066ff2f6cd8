<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Unit;

use Magento\Authorization\Model\UserContextInterface;
use Magento\Framework\DataObject;
use Magento\Framework\Event;
use Magento\Framework\Event\Observer;
use PHPUnit\Framework\TestCase;
use Tillbridge\Connector\Model\Config;
use Tillbridge\Connector\Observer\CustomerSaved;
use Tillbridge\Connector\Observer\OrderSaved;
use Tillbridge\Connector\Test\Support\Entities;
use Tillbridge\Connector\Test\Support\World;

final class LoopPreventionTest extends TestCase
{
    private World $world;

    protected function setUp(): void
    {
        $this->world = new World();
        $order = Entities::order(['entity_id' => 10, 'increment_id' => '000000010', 'status' => 'processing'], true);
        $this->world->orders->byId[10] = $order;
    }

    public function testTillbridgesOwnIntegrationChangesAreNotSentBack(): void
    {
        $this->world->user->userType = UserContextInterface::USER_TYPE_INTEGRATION;
        $this->world->user->userId = 7;

        $this->saveOrder();
        $this->saveCustomer();

        self::assertSame([], $this->world->rows());
    }

    public function testAnotherIntegrationsChangesAreForwarded(): void
    {
        $this->world->user->userType = UserContextInterface::USER_TYPE_INTEGRATION;
        $this->world->user->userId = 8;

        $this->saveOrder();

        self::assertCount(1, $this->world->rows());
    }

    public function testAnAdminWithTheSameNumericIdIsNotMistakenForTillbridge(): void
    {
        $this->world->user->userType = UserContextInterface::USER_TYPE_ADMIN;
        $this->world->user->userId = 7;

        $this->saveOrder();
        $this->saveCustomer();

        self::assertCount(2, $this->world->rows());
    }

    public function testStorefrontAndCronChangesAreForwarded(): void
    {
        $this->world->user->userType = UserContextInterface::USER_TYPE_CUSTOMER;
        $this->world->user->userId = 7;
        $this->saveCustomer();
        $this->world->user->userType = null;
        $this->world->user->userId = null;
        $this->saveOrder();

        self::assertCount(2, $this->world->rows());
    }

    public function testWithNoIntegrationConfiguredEverythingIsForwarded(): void
    {
        $this->world->scopeConfig->values[Config::XML_INTEGRATION_ID] = '0';
        $this->world->user->userType = UserContextInterface::USER_TYPE_INTEGRATION;
        $this->world->user->userId = 0;

        $this->saveOrder();

        self::assertCount(1, $this->world->rows());
    }

    private function saveOrder(): void
    {
        (new OrderSaved($this->world->writer, $this->world->renderer))->execute(
            new Observer(['event' => new Event(['order' => $this->world->orders->byId[10]])])
        );
    }

    private function saveCustomer(): void
    {
        $customer = Entities::customer(['id' => 3, 'email' => 'ann@example.com', 'firstname' => 'Ann', 'lastname' => 'Lee']);
        (new CustomerSaved($this->world->writer, $this->world->renderer))->execute(
            new Observer(['event' => new Event(['customer_data_object' => $customer, 'orig_customer_data_object' => $customer])])
        );
    }
}
