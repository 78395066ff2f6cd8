<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model;

use Magento\Framework\App\Config\ScopeConfigInterface;
use Magento\Framework\Encryption\EncryptorInterface;
use Tillbridge\Connector\Model\Outbox\EventName;

/**
 * The module's settings (Stores › Configuration › Tillbridge › Connector), read at default scope.
 */
class Config
{
    public const XML_ENABLED = 'tillbridge/connector/enabled';
    public const XML_URL = 'tillbridge/connector/url';
    public const XML_SECRET = 'tillbridge/connector/secret';
    public const XML_EVENTS = 'tillbridge/connector/events';
    public const XML_BATCH_SIZE = 'tillbridge/connector/batch_size';
    public const XML_MAX_ATTEMPTS = 'tillbridge/connector/max_attempts';
    public const XML_TIMEOUT = 'tillbridge/connector/timeout';
    public const XML_RETENTION_DAYS = 'tillbridge/connector/retention_days';
    public const XML_INTEGRATION_ID = 'tillbridge/connector/integration_id';

    public const WEBHOOK_PATH = '/webhooks/magento';

    public function __construct(
        private readonly ScopeConfigInterface $scopeConfig,
        private readonly EncryptorInterface $encryptor
    ) {
    }

    public function isEnabled(): bool
    {
        return $this->scopeConfig->isSetFlag(self::XML_ENABLED);
    }

    public function isEventEnabled(string $eventName): bool
    {
        return in_array($eventName, $this->getEnabledEvents(), true);
    }

    /** @return list<string> */
    public function getEnabledEvents(): array
    {
        $raw = (string) $this->scopeConfig->getValue(self::XML_EVENTS);
        $names = array_filter(array_map('trim', explode(',', $raw)), static fn (string $n): bool => $n !== '');
        return array_values(array_intersect(EventName::all(), $names));
    }

    /** The full endpoint, <Tillbridge URL>/webhooks/magento; '' when no URL is configured. */
    public function getWebhookUrl(): string
    {
        $base = rtrim(trim((string) $this->scopeConfig->getValue(self::XML_URL)), '/');
        return $base === '' ? '' : $base . self::WEBHOOK_PATH;
    }

    public function getSecret(): string
    {
        $stored = (string) $this->scopeConfig->getValue(self::XML_SECRET);
        return $stored === '' ? '' : $this->encryptor->decrypt($stored);
    }

    public function getBatchSize(): int
    {
        return $this->positiveInt(self::XML_BATCH_SIZE, 50);
    }

    public function getMaxAttempts(): int
    {
        return $this->positiveInt(self::XML_MAX_ATTEMPTS, 8);
    }

    public function getTimeoutSeconds(): int
    {
        return $this->positiveInt(self::XML_TIMEOUT, 10);
    }

    public function getRetentionDays(): int
    {
        return $this->positiveInt(self::XML_RETENTION_DAYS, 7);
    }

    /** The integration whose REST writes are Tillbridge's own; 0 when none is configured. */
    public function getIntegrationId(): int
    {
        return max(0, (int) $this->scopeConfig->getValue(self::XML_INTEGRATION_ID));
    }

    private function positiveInt(string $path, int $default): int
    {
        $value = (int) $this->scopeConfig->getValue($path);
        return $value > 0 ? $value : $default;
    }
}
