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
     * service.signing.sign("whsec-test-ü", EVENT_ID, 1790000000, BODY.encode("utf-8")).
     */
    private const PYTHON_SIGNATURE = 'v1,3oZ7WnhgXA7flWyhc9YwVo54DI8f/c557QxiK0gvges=';
    private const EVENT_ID = '6f1c9f0e-1d7a-4c1e-9d4b-2f6a8c3e5b71';
    private const BODY = '{"event":"order.created","occurred_at":"2026-09-21T10:13:20+00:00","store_code":"default",'
        . '"data":{"entity_id":42,"increment_id":"000000042","grand_total":12.5,"customer_firstname":"Zoë","note":"a/b"}}';

    public function testSignatureMatchesThePythonServiceByteForByte(): void
    {
        self::assertSame(self::PYTHON_SIGNATURE, Signature::sign('whsec-test-ü', self::EVENT_ID, 1790000000, self::BODY));
    }

    public function testWhsecSecretMatchesTheStandardWebhooksSpecificationExample(): void
    {
        self::assertSame(
            'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
            Signature::sign('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')
        );
    }

    public function testAWhsecSecretThatIsNotBase64SaysSo(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('not base64');
        Signature::sign('whsec_not*base64', 'e1', 1790000000, '{}');
    }

    public function testEnvelopeRendersTheBytesThatWereSigned(): void
    {
        $event = new OutboxEvent(
            5,
            self::EVENT_ID,
            'order.created',
            'order',
            '42',
            'default',
            '{"entity_id":42,"increment_id":"000000042","grand_total":12.5,"customer_firstname":"Zoë","note":"a/b"}',
            '2026-09-21 10:13:20'
        );

        $body = Envelope::body($event);

        self::assertSame(self::BODY, $body);
        self::assertSame(self::PYTHON_SIGNATURE, Signature::sign('whsec-test-ü', self::EVENT_ID, 1790000000, $body));
    }

    public function testAnyChangeToIdBodyTimestampOrSecretChangesTheSignature(): void
    {
        $reference = Signature::sign('whsec-test-ü', self::EVENT_ID, 1790000000, self::BODY);

        self::assertNotSame($reference, Signature::sign('whsec-test-ü', 'another-event-id', 1790000000, self::BODY));
        self::assertNotSame($reference, Signature::sign('whsec-test-ü', self::EVENT_ID, 1790000001, self::BODY));
        self::assertNotSame($reference, Signature::sign('whsec-test-u', self::EVENT_ID, 1790000000, self::BODY));
        self::assertNotSame($reference, Signature::sign('whsec-test-ü', self::EVENT_ID, 1790000000, self::BODY . ' '));
    }

    public function testHeadersAreTheStandardWebhooksOnes(): void
    {
        $headers = Signature::headers('s', 'the-event-id', '{}', 1700000000);

        self::assertSame('application/json', $headers['Content-Type']);
        self::assertSame('1700000000', $headers['webhook-timestamp']);
        self::assertSame('the-event-id', $headers['webhook-id']);
        self::assertSame(
            'v1,' . base64_encode(hash_hmac('sha256', 'the-event-id.1700000000.{}', 's', true)),
            $headers['webhook-signature']
        );
    }
}
