<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\Http;

interface TransportInterface
{
    /**
     * @param array<string, string> $headers
     * @throws TransportException when no HTTP answer came back
     */
    public function post(string $url, string $body, array $headers, int $timeoutSeconds): Response;
}
