<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Unit;

use PHPUnit\Framework\TestCase;
use Tillbridge\Connector\Model\Config;
use Tillbridge\Connector\Test\Support\ArrayScopeConfig;
use Tillbridge\Connector\Test\Support\ReversibleEncryptor;

final class ConfigTest extends TestCase
{
    public function testShippedDefaultsSendNothingUntilEnabledAndConfigured(): void
    {
        $config = new Config(new ArrayScopeConfig(), new ReversibleEncryptor());

        self::assertFalse($config->isEnabled());
        self::assertSame('', $config->getWebhookUrl());
        self::assertSame('', $config->getSecret());
        self::assertSame(
            ['order.created', 'order.updated', 'customer.created', 'customer.updated', 'creditmemo.created', 'product.saved'],
            $config->getEnabledEvents()
        );
        self::assertSame([50, 8, 10, 7, 0], [
            $config->getBatchSize(), $config->getMaxAttempts(), $config->getTimeoutSeconds(),
            $config->getRetentionDays(), $config->getIntegrationId(),
        ]);
    }

    public function testTheSecretIsReadDecryptedAndTheUrlGetsTheWebhookPath(): void
    {
        $encryptor = new ReversibleEncryptor();
        $config = new Config(new ArrayScopeConfig([
            Config::XML_SECRET => $encryptor->encrypt('s3cret'),
            Config::XML_URL => ' https://tillbridge.example.com/base// ',
        ]), $encryptor);

        self::assertSame('s3cret', $config->getSecret());
        self::assertSame('https://tillbridge.example.com/base/webhooks/magento', $config->getWebhookUrl());
    }

    public function testUnknownEventNamesAndBadNumbersFallBackSafely(): void
    {
        $config = new Config(new ArrayScopeConfig([
            Config::XML_EVENTS => 'order.created, order.deleted,,product.saved',
            Config::XML_BATCH_SIZE => '0',
            Config::XML_MAX_ATTEMPTS => '-3',
            Config::XML_INTEGRATION_ID => 'abc',
        ]), new ReversibleEncryptor());

        self::assertSame(['order.created', 'product.saved'], $config->getEnabledEvents());
        self::assertFalse($config->isEventEnabled('order.deleted'));
        self::assertSame(50, $config->getBatchSize());
        self::assertSame(8, $config->getMaxAttempts());
        self::assertSame(0, $config->getIntegrationId());
    }
}
