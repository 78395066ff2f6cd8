<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\Http;

/**
 * The request got no HTTP answer (DNS, connection refused, TLS, timeout).
 */
class TransportException extends \RuntimeException
{
}
