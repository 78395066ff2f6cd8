<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\Outbox;

use Psr\Log\LoggerInterface;
use Tillbridge\Connector\Model\Clock;
use Tillbridge\Connector\Model\Config;
use Tillbridge\Connector\Model\Http\Response;
use Tillbridge\Connector\Model\Http\TransportException;
use Tillbridge\Connector\Model\Http\TransportInterface;
use Tillbridge\Connector\Model\Signature;

/**
 * Sends due outbox rows to Tillbridge, oldest first, signed.
 *
 * 2xx (202 accepted, 200 already seen) marks a row sent. 408, 429, 5xx and network errors are
 * retried with backoff until the attempt limit, then the row is failed. Any other answer
 * (400 bad envelope, 401 bad signature, 422 card number, ...) cannot succeed by repeating it, so
 * the row is failed at once with the service's message. A retryable error ends the run: when
 * Tillbridge is down, the rows behind do not burn their attempts.
 */
class Sender
{
    private const ERROR_EXCERPT_BYTES = 500;

    public function __construct(
        private readonly OutboxRepository $repository,
        private readonly Config $config,
        private readonly TransportInterface $transport,
        private readonly RetrySchedule $schedule,
        private readonly Clock $clock,
        private readonly LoggerInterface $logger
    ) {
    }

    /**
     * Sends batch after batch while full batches keep coming, for up to $budgetSeconds, so a
     * backlog drains within one cron minute instead of one batch per minute.
     */
    public function drain(int $budgetSeconds): SendReport
    {
        $total = new SendReport();
        $deadline = $this->clock->now() + $budgetSeconds;
        do {
            $report = $this->sendDue();
            $total->sent += $report->sent;
            $total->retrying += $report->retrying;
            $total->failed += $report->failed;
            $total->stopReason = $report->stopReason;
            $full = $report->sent + $report->retrying + $report->failed >= $this->config->getBatchSize();
        } while ($full && $report->stopReason === '' && $this->clock->now() < $deadline);
        return $total;
    }

    /** Sends one batch of due rows. */
    public function sendDue(): SendReport
    {
        $report = new SendReport();
        if (!$this->config->isEnabled()) {
            $report->stopReason = 'forwarding is disabled';
            return $report;
        }
        $url = $this->config->getWebhookUrl();
        $secret = $this->config->getSecret();
        if ($url === '' || $secret === '') {
            $report->stopReason = 'set the Tillbridge URL and shared secret in Stores › Configuration › Tillbridge';
            $this->logger->warning('Tillbridge: outbox not sent: ' . $report->stopReason);
            return $report;
        }
        $due = $this->repository->findDue($this->clock->format($this->clock->now()), $this->config->getBatchSize());
        foreach ($due as $event) {
            $outcome = $this->deliver($event, $url, $secret);
            $this->repository->save($event);
            if ($outcome === OutboxEvent::STATUS_SENT) {
                $report->sent++;
                continue;
            }
            if ($outcome === OutboxEvent::STATUS_FAILED) {
                $report->failed++;
                $this->logger->error(sprintf('Tillbridge: event %s (%s) failed: %s', $event->eventId, $event->eventName, (string) $event->lastError));
                continue;
            }
            $report->retrying++;
            $report->stopReason = 'Tillbridge unavailable: ' . (string) $event->lastError;
            break;
        }
        return $report;
    }

    /**
     * Sends one row and updates it in memory; returns the row's new status, or 'retry'.
     */
    public function deliver(OutboxEvent $event, string $url, string $secret): string
    {
        try {
            $body = Envelope::body($event);
        } catch (\InvalidArgumentException $e) {
            return $this->fail($event, null, 'Cannot build the event body: ' . $e->getMessage());
        }
        try {
            $headers = Signature::headers($secret, $event->eventId, $body, $this->clock->now());
        } catch (\InvalidArgumentException $e) {
            // A configuration mistake, not this row's: keep it for when the secret is fixed.
            return $this->retryLater($event, null, 'Cannot sign the event: ' . $e->getMessage(), null);
        }
        try {
            $response = $this->transport->post($url, $body, $headers, $this->config->getTimeoutSeconds());
        } catch (TransportException $e) {
            return $this->retryLater($event, null, $e->getMessage(), null);
        }
        $status = $response->status;
        if ($status >= 200 && $status < 300) {
            $event->attempts++;
            $event->status = OutboxEvent::STATUS_SENT;
            $event->sentAt = $this->clock->format($this->clock->now());
            $event->nextAttemptAt = null;
            $event->lastError = null;
            $event->lastHttpStatus = $status;
            return OutboxEvent::STATUS_SENT;
        }
        $message = sprintf('HTTP %d from Tillbridge: %s', $status, $this->excerpt($response));
        if ($status === 408 || $status === 429 || $status >= 500) {
            return $this->retryLater($event, $status, $message, $this->retryAfter($response));
        }
        $event->attempts++;
        return $this->fail($event, $status, $message);
    }

    private function retryLater(OutboxEvent $event, ?int $status, string $message, ?int $retryAfter): string
    {
        $event->attempts++;
        $event->lastHttpStatus = $status;
        $maxAttempts = $this->config->getMaxAttempts();
        if ($event->attempts >= $maxAttempts) {
            return $this->fail($event, $status, sprintf('Gave up after %d attempts; last error: %s', $event->attempts, $message));
        }
        $event->lastError = $message;
        $event->nextAttemptAt = $this->clock->format(
            $this->clock->now() + $this->schedule->delayAfter($event->attempts, $retryAfter)
        );
        return 'retry';
    }

    private function fail(OutboxEvent $event, ?int $status, string $message): string
    {
        $event->status = OutboxEvent::STATUS_FAILED;
        $event->lastHttpStatus = $status;
        $event->lastError = $message;
        $event->nextAttemptAt = null;
        return OutboxEvent::STATUS_FAILED;
    }

    private function excerpt(Response $response): string
    {
        $decoded = json_decode($response->body, true);
        $text = is_array($decoded) && isset($decoded['message']) && is_string($decoded['message'])
            ? $decoded['message']
            : trim($response->body);
        if ($text === '') {
            return '(empty body)';
        }
        return strlen($text) > self::ERROR_EXCERPT_BYTES ? substr($text, 0, self::ERROR_EXCERPT_BYTES) . '…' : $text;
    }

    private function retryAfter(Response $response): ?int
    {
        $value = $response->header('Retry-After');
        if ($value === null || $value === '') {
            return null;
        }
        if (ctype_digit($value)) {
            return (int) $value;
        }
        $when = strtotime($value);
        return $when === false ? null : max(0, $when - $this->clock->now());
    }
}
