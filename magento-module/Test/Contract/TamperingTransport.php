<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Contract;

use Tillbridge\Connector\Model\Http\Response;
use Tillbridge\Connector\Model\Http\TransportInterface;

/**
 * Changes the body after it was signed, as a man in the middle would, then sends it for real.
 */
final class TamperingTransport implements TransportInterface
{
    public function __construct(private readonly TransportInterface $inner)
    {
    }

    public function post(string $url, string $body, array $headers, int $timeoutSeconds): Response
    {
        $tampered = preg_replace('/"grand_total":[0-9.]+/', '"grand_total":0.01', $body, 1, $count);
        if ($count !== 1) {
            throw new \RuntimeException('the contract event must carry a grand_total to tamper with');
        }
        return $this->inner->post($url, (string) $tampered, $headers, $timeoutSeconds);
    }
}
