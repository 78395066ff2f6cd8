<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Unit;

use Magento\Framework\Event\ObserverInterface;
use PHPUnit\Framework\TestCase;
use Tillbridge\Connector\Model\Config;
use Tillbridge\Connector\Model\Outbox\EventName;
use Tillbridge\Connector\Test\Support\SchemaLoader;

/**
 * The XML that Magento reads at setup:upgrade and di:compile agrees with the PHP it names.
 */
final class ModuleFilesTest extends TestCase
{
    private const ROOT = __DIR__ . '/../..';

    public function testEveryXmlFileIsWellFormed(): void
    {
        $files = array_merge(
            glob(self::ROOT . '/etc/*.xml') ?: [],
            glob(self::ROOT . '/etc/adminhtml/*.xml') ?: [],
            glob(self::ROOT . '/view/adminhtml/*/*.xml') ?: []
        );
        self::assertGreaterThanOrEqual(13, count($files));
        foreach ($files as $file) {
            $dom = new \DOMDocument();
            self::assertTrue(@$dom->load($file), basename($file) . ' is not well-formed XML');
        }
    }

    public function testComposerRegistrationAndModuleXmlNameTheSameModule(): void
    {
        $composer = json_decode((string) file_get_contents(self::ROOT . '/composer.json'), true, 512, JSON_THROW_ON_ERROR);
        self::assertSame('magento2-module', $composer['type']);
        self::assertSame('tillbridge/module-connector', $composer['name']);
        self::assertSame(['registration.php'], $composer['autoload']['files']);
        self::assertSame(['Tillbridge\\Connector\\' => ''], $composer['autoload']['psr-4']);
        self::assertStringContainsString("'Tillbridge_Connector', __DIR__", (string) file_get_contents(self::ROOT . '/registration.php'));
        $module = $this->xml('etc/module.xml')->module;
        self::assertSame('Tillbridge_Connector', (string) $module['name']);
        self::assertFalse(isset($module['setup_version']), 'declarative schema modules have no setup_version');
    }

    public function testObserversAreDeclaredGloballyForTheFiveStoreEvents(): void
    {
        $declared = [];
        foreach ($this->xml('etc/events.xml')->event as $event) {
            foreach ($event->observer as $observer) {
                $class = (string) $observer['instance'];
                self::assertTrue(class_exists($class), $class . ' does not exist');
                self::assertTrue(is_subclass_of($class, ObserverInterface::class), $class . ' is not an observer');
                $declared[(string) $event['name']] = $class;
            }
        }
        self::assertSame([
            'checkout_submit_all_after' => 'Tillbridge\\Connector\\Observer\\OrderPlaced',
            'sales_order_save_commit_after' => 'Tillbridge\\Connector\\Observer\\OrderSaved',
            'customer_save_after_data_object' => 'Tillbridge\\Connector\\Observer\\CustomerSaved',
            'sales_order_creditmemo_save_after' => 'Tillbridge\\Connector\\Observer\\CreditmemoSaved',
            'catalog_product_save_after' => 'Tillbridge\\Connector\\Observer\\ProductSaved',
        ], $declared);
        self::assertFileDoesNotExist(self::ROOT . '/etc/frontend/events.xml');
    }

    public function testCronJobsNameRealMethodsAndTheSenderRunsEveryMinute(): void
    {
        $schedules = [];
        foreach ($this->xml('etc/crontab.xml')->group->job as $job) {
            self::assertTrue(method_exists((string) $job['instance'], (string) $job['method']), (string) $job['instance']);
            $schedules[(string) $job['name']] = (string) $job->schedule;
        }
        self::assertSame('* * * * *', $schedules['tillbridge_connector_outbox_send']);
        self::assertArrayHasKey('tillbridge_connector_outbox_clean', $schedules);
    }

    public function testWhitelistMatchesTheDeclaredSchema(): void
    {
        $whitelist = json_decode((string) file_get_contents(self::ROOT . '/etc/db_schema_whitelist.json'), true, 512, JSON_THROW_ON_ERROR);
        $fromSchema = [];
        foreach (SchemaLoader::tables(self::ROOT . '/etc/db_schema.xml') as $table) {
            $fromSchema[$table['name']] = [
                'column' => array_fill_keys(array_map(static fn (array $c): string => $c['name'], $table['columns']), true),
                'index' => array_fill_keys(array_keys($table['index']), true),
                'constraint' => array_fill_keys(array_merge(['PRIMARY'], array_keys($table['unique'])), true),
            ];
        }
        self::assertEquals($fromSchema, $whitelist);
    }

    public function testAdminFieldsHaveDefaultsAndConfigPaths(): void
    {
        $group = $this->xml('etc/adminhtml/system.xml')->system->section->group;
        $fields = [];
        foreach ($group->field as $field) {
            $fields[(string) $field['id']] = $field;
        }
        $defaults = $this->xml('etc/config.xml')->default->tillbridge->connector;
        $paths = array_filter((new \ReflectionClass(Config::class))->getConstants(), static fn ($v, $k): bool => str_starts_with($k, 'XML_'), ARRAY_FILTER_USE_BOTH);
        foreach (array_keys($fields) as $id) {
            self::assertTrue(isset($defaults->{$id}), "config.xml has no default for $id");
            self::assertContains('tillbridge/connector/' . $id, $paths, "Config has no constant for $id");
        }
        self::assertCount(count($paths), $fields);
        self::assertSame('obscure', (string) $fields['secret']['type']);
        self::assertSame('Magento\\Config\\Model\\Config\\Backend\\Encrypted', (string) $fields['secret']->backend_model);
        self::assertSame('', (string) $defaults->secret, 'no default secret ships with the module');
        self::assertSame(EventName::all(), explode(',', (string) $defaults->events));
    }

    public function testWebapiRoutesFollowTheContractAndTheirAclExists(): void
    {
        $routes = [];
        foreach ($this->xml('etc/webapi.xml')->route as $route) {
            $class = (string) $route->service['class'];
            $method = (string) $route->service['method'];
            self::assertTrue(method_exists($class, $method), "$class::$method");
            $routes[(string) $route['method'] . ' ' . (string) $route['url']] = $method;
            self::assertContains((string) $route->resources->resource['ref'], $this->aclIds());
        }
        self::assertSame([
            'GET /V1/tillbridge/giftcards/:code' => 'get',
            'GET /V1/tillbridge/giftcards' => 'getList',
            'POST /V1/tillbridge/giftcards' => 'create',
            'POST /V1/tillbridge/giftcards/:code/adjustments' => 'adjust',
            'GET /V1/tillbridge/giftcard-history' => 'getHistory',
        ], $routes);
        $create = new \ReflectionMethod('Tillbridge\\Connector\\Api\\GiftCardAccountManagementInterface', 'create');
        $adjust = new \ReflectionMethod('Tillbridge\\Connector\\Api\\GiftCardAccountManagementInterface', 'adjust');
        self::assertSame('giftCard', $create->getParameters()[0]->getName(), 'body key "giftCard"');
        self::assertSame(['code', 'adjustment'], array_map(static fn (\ReflectionParameter $p): string => $p->getName(), $adjust->getParameters()));
    }

    public function testDiPreferencesPointAtImplementations(): void
    {
        foreach ($this->xml('etc/di.xml')->preference as $preference) {
            $for = (string) $preference['for'];
            $type = (string) $preference['type'];
            self::assertTrue(class_exists($type), "$type does not exist");
            self::assertTrue(is_subclass_of($type, $for), "$type does not implement $for");
        }
    }

    public function testAdminPagesActionsAndAclAgree(): void
    {
        $acl = $this->aclIds();
        foreach ($this->xml('etc/adminhtml/menu.xml')->menu->add as $item) {
            self::assertContains((string) $item['resource'], $acl);
        }
        self::assertSame('tillbridge', (string) $this->xml('etc/adminhtml/routes.xml')->router->route['frontName']);
        foreach (['Failed', 'Resend', 'MassResend'] as $action) {
            $source = (string) file_get_contents(self::ROOT . "/Controller/Adminhtml/Outbox/$action.php");
            self::assertStringContainsString("ADMIN_RESOURCE = 'Tillbridge_Connector::outbox'", $source);
        }
        $listing = (string) file_get_contents(self::ROOT . '/view/adminhtml/ui_component/tillbridge_outbox_failed_listing.xml');
        self::assertStringContainsString('<url path="tillbridge/outbox/massResend"/>', $listing);
        self::assertStringContainsString('<uiComponent name="tillbridge_outbox_failed_listing"/>', (string) file_get_contents(self::ROOT . '/view/adminhtml/layout/tillbridge_outbox_failed.xml'));
        self::assertStringContainsString('<item name="tillbridge_outbox_failed_listing_data_source"', (string) file_get_contents(self::ROOT . '/etc/di.xml'));
        self::assertStringContainsString("'tillbridge/outbox/resend'", (string) file_get_contents(self::ROOT . '/Ui/Component/Listing/Column/ResendAction.php'));
        self::assertContains('Tillbridge_Connector::config', $acl);
    }

    /** @return list<string> */
    private function aclIds(): array
    {
        $ids = [];
        foreach ($this->xml('etc/acl.xml')->xpath('//resource') as $resource) {
            $ids[] = (string) $resource['id'];
        }
        return $ids;
    }

    private function xml(string $path): \SimpleXMLElement
    {
        $xml = simplexml_load_file(self::ROOT . '/' . $path);
        self::assertNotFalse($xml, $path);
        return $xml;
    }
}
