<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model;

/**
 * The Standard Webhooks signature Tillbridge verifies (service/signing.py,
 * https://www.standardwebhooks.com): "v1," + base64(HMAC-SHA256(key, "{id}.{timestamp}.{raw body}")),
 * with the event id and the timestamp in their own headers. The id is signed, so a captured event
 * cannot be replayed under a new id. The key of a secret "whsec_<base64>" is the decoded base64;
 * of any other secret, its UTF-8 bytes.
 */
final class Signature
{
    public const ID_HEADER = 'webhook-id';
    public const TIMESTAMP_HEADER = 'webhook-timestamp';
    public const SIGNATURE_HEADER = 'webhook-signature';
    public const SECRET_PREFIX = 'whsec_';

    public static function key(string $secret): string
    {
        if (!str_starts_with($secret, self::SECRET_PREFIX)) {
            return $secret;
        }
        $encoded = substr($secret, strlen(self::SECRET_PREFIX));
        $padded = $encoded . str_repeat('=', (4 - strlen($encoded) % 4) % 4);
        $key = base64_decode($padded, true);
        if ($key === false || $key === '') {
            throw new \InvalidArgumentException(
                'the Tillbridge webhook secret starts with whsec_ but the rest is not base64; '
                . 'give whsec_<base64 of the key> or a secret without that prefix'
            );
        }
        return $key;
    }

    public static function sign(string $secret, string $eventId, int $timestamp, string $body): string
    {
        $mac = hash_hmac('sha256', $eventId . '.' . $timestamp . '.' . $body, self::key($secret), true);
        return 'v1,' . base64_encode($mac);
    }

    /** @return array<string, string> */
    public static function headers(string $secret, string $eventId, string $body, int $timestamp): array
    {
        return [
            'Content-Type' => 'application/json',
            self::ID_HEADER => $eventId,
            self::TIMESTAMP_HEADER => (string) $timestamp,
            self::SIGNATURE_HEADER => self::sign($secret, $eventId, $timestamp, $body),
        ];
    }
}
