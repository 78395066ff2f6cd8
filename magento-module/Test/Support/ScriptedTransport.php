<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

use Tillbridge\Connector\Model\Http\Response;
use Tillbridge\Connector\Model\Http\TransportException;
use Tillbridge\Connector\Model\Http\TransportInterface;

/**
 * Answers with scripted responses (or TransportException for a network error) and records every
 * request it got, bytes included.
 */
final class ScriptedTransport implements TransportInterface
{
    /** @var list<array{url: string, body: string, headers: array<string, string>, timeout: int}> */
    public array $requests = [];

    /** @param list<Response|TransportException> $answers; when empty, 202 */
    public function __construct(private array $answers = [])
    {
    }

    public function push(Response|TransportException $answer): void
    {
        $this->answers[] = $answer;
    }

    public function post(string $url, string $body, array $headers, int $timeoutSeconds): Response
    {
        $this->requests[] = ['url' => $url, 'body' => $body, 'headers' => $headers, 'timeout' => $timeoutSeconds];
        $answer = array_shift($this->answers) ?? new Response(202, '{"status":"accepted"}');
        if ($answer instanceof TransportException) {
            throw $answer;
        }
        return $answer;
    }
}
