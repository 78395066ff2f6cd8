<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

use Psr\Log\LoggerInterface;

/** Keeps log lines so a test can assert on what an operator would read. */
final class RecordingLogger implements LoggerInterface
{
    /** @var list<array{0: string, 1: string}> */
    public array $lines = [];

    public function emergency($message, array $context = array()) { $this->log('emergency', $message, $context); }
    public function alert($message, array $context = array()) { $this->log('alert', $message, $context); }
    public function critical($message, array $context = array()) { $this->log('critical', $message, $context); }
    public function error($message, array $context = array()) { $this->log('error', $message, $context); }
    public function warning($message, array $context = array()) { $this->log('warning', $message, $context); }
    public function notice($message, array $context = array()) { $this->log('notice', $message, $context); }
    public function info($message, array $context = array()) { $this->log('info', $message, $context); }
    public function debug($message, array $context = array()) { $this->log('debug', $message, $context); }

    public function log($level, $message, array $context = array())
    {
        $this->lines[] = [(string) $level, (string) $message];
    }

    public function text(): string
    {
        return implode("\n", array_map(static fn (array $l): string => $l[0] . ': ' . $l[1], $this->lines));
    }
}
