<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\Outbox;

/**
 * The JSON form of a rendered entity as stored in the outbox and sent in "data".
 */
final class PayloadJson
{
    /**
     * Fields Magento's REST output can carry that hold (encrypted) card data; Tillbridge refuses
     * any event carrying card numbers, and has no use for them.
     */
    private const REDACTED_KEYS = [
        'cc_number_enc',
        'cc_cid_enc',
        'cc_debug_request_body',
        'cc_debug_response_body',
        'cc_debug_response_serialized',
        'cc_secure_verify',
    ];

    public const FLAGS = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION
        | JSON_THROW_ON_ERROR;

    /** @param array<string, mixed> $entity */
    public static function encode(array $entity): string
    {
        $clean = self::redact($entity);
        if ($clean === []) {
            throw new \InvalidArgumentException('the rendered entity is empty');
        }
        return json_encode($clean, self::FLAGS);
    }

    /**
     * @param array<mixed> $value
     * @return array<mixed>
     */
    private static function redact(array $value): array
    {
        foreach ($value as $key => $item) {
            if (is_string($key) && in_array($key, self::REDACTED_KEYS, true)) {
                unset($value[$key]);
            } elseif (is_array($item)) {
                $value[$key] = self::redact($item);
            }
        }
        return $value;
    }
}
