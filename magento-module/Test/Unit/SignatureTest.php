<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Unit;

use PHPUnit\Framework\TestCase;
use Tillbridge\Connector\Model\Outbox\Envelope;
use Tillbridge\Connector\Model\Outbox\OutboxEvent;
use Tillbridge\Connector\Model\Signature;

final class SignatureTest extends TestCase
{
    /**
     * Computed with the Python side:
     * service.signing.sign("whsec-test-ü", 1790000000, BODY.encode("utf-8")).
     */
    private const PYTHON_SIGNATURE = 'ba228200537581dca80e2f400f2c39b4a8e9af2ef433f9044d2c689cd75cd433';
    private const BODY = '{"event":"order.created","occurred_at":"2026-09-21T10:13:20+00:00","store_code":"default",'
        . '"data":{"entity_id":42,"increment_id":"000000042","grand_total":12.5,"customer_firstname":"Zoë","note":"a/b"}}';

    public function testSignatureMatchesThePythonServiceByteForByte(): void
    {
        self::assertSame(self::PYTHON_SIGNATURE, Signature::sign('whsec-test-ü', 1790000000, self::BODY));
    }

    public function testEnvelopeRendersTheBytesThatWereSigned(): void
    {
        $event = new OutboxEvent(
            5,
            '6f1c9f0e-1d7a-4c1e-9d4b-2f6a8c3e5b71',
            'order.created',
            'order',
            '42',
            'default',
            '{"entity_id":42,"increment_id":"000000042","grand_total":12.5,"customer_firstname":"Zoë","note":"a/b"}',
            '2026-09-21 10:13:20'
        );

        $body = Envelope::body($event);

        self::assertSame(self::BODY, $body);
        self::assertSame(self::PYTHON_SIGNATURE, Signature::sign('whsec-test-ü', 1790000000, $body));
    }

    public function testAnyChangeToBodyTimestampOrSecretChangesTheSignature(): void
    {
        $reference = Signature::sign('whsec-test-ü', 1790000000, self::BODY);

        self::assertNotSame($reference, Signature::sign('whsec-test-ü', 1790000001, self::BODY));
        self::assertNotSame($reference, Signature::sign('whsec-test-u', 1790000000, self::BODY));
        self::assertNotSame($reference, Signature::sign('whsec-test-ü', 1790000000, self::BODY . ' '));
    }

    public function testHeadersCarryTimestampEventIdAndLowercaseHexSignature(): void
    {
        $headers = Signature::headers('s', 'the-event-id', '{}', 1700000000);

        self::assertSame('application/json', $headers['Content-Type']);
        self::assertSame('1700000000', $headers['X-Tillbridge-Timestamp']);
        self::assertSame('the-event-id', $headers['X-Tillbridge-Event-Id']);
        self::assertMatchesRegularExpression('/^[0-9a-f]{64}$/', $headers['X-Tillbridge-Signature']);
        self::assertSame(hash_hmac('sha256', '1700000000.{}', 's'), $headers['X-Tillbridge-Signature']);
    }
}
