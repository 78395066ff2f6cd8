<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

use Magento\Framework\App\Config\ScopeConfigInterface;

/** Stores › Configuration values held in an array (defaults from etc/config.xml). */
final class ArrayScopeConfig implements ScopeConfigInterface
{
    /** @param array<string, mixed> $values */
    public function __construct(public array $values = [])
    {
        $this->values += self::defaults();
    }

    /** @return array<string, string> the module's etc/config.xml defaults */
    public static function defaults(): array
    {
        $xml = simplexml_load_file(dirname(__DIR__, 2) . '/etc/config.xml');
        $defaults = [];
        foreach ($xml->default->tillbridge->connector->children() as $name => $value) {
            $defaults['tillbridge/connector/' . $name] = (string) $value;
        }
        return $defaults;
    }

    public function getValue($path, $scopeType = self::SCOPE_TYPE_DEFAULT, $scopeCode = null)
    {
        return $this->values[$path] ?? null;
    }

    public function isSetFlag($path, $scopeType = self::SCOPE_TYPE_DEFAULT, $scopeCode = null)
    {
        return (bool) $this->getValue($path);
    }
}
