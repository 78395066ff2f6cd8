<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model;

/**
 * The request signature Tillbridge verifies (service/signing.py): lowercase hex
 * HMAC-SHA256(secret, "{timestamp}.{raw body}").
 */
final class Signature
{
    public const SIGNATURE_HEADER = 'X-Tillbridge-Signature';
    public const TIMESTAMP_HEADER = 'X-Tillbridge-Timestamp';
    public const EVENT_ID_HEADER = 'X-Tillbridge-Event-Id';

    public static function sign(string $secret, int $timestamp, string $body): string
    {
        return hash_hmac('sha256', $timestamp . '.' . $body, $secret);
    }

    /** @return array<string, string> */
    public static function headers(string $secret, string $eventId, string $body, int $timestamp): array
    {
        return [
            'Content-Type' => 'application/json',
            self::SIGNATURE_HEADER => self::sign($secret, $timestamp, $body),
            self::TIMESTAMP_HEADER => (string) $timestamp,
            self::EVENT_ID_HEADER => $eventId,
        ];
    }
}
