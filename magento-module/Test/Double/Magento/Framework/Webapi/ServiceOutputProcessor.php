<?php
declare(strict_types=1);

// Test double: renders a data object the way Magento's webapi does — the getters of the interface
// named in the service method's @return, snake_cased, null values left out, nested objects
// rendered through their own declared interface.
namespace Magento\Framework\Webapi;

class ServiceOutputProcessor
{
    public function process($data, $serviceClassName, $serviceMethodName)
    {
        $method = new \ReflectionMethod($serviceClassName, $serviceMethodName);
        return $this->render($data, $this->returnType($method));
    }

    private function render($value, ?string $type)
    {
        if (is_array($value)) {
            return array_map(fn ($item) => $this->render($item, $type === null ? null : rtrim($type, '[]')), $value);
        }
        if (!is_object($value)) {
            return $value;
        }
        $interface = $type !== null && interface_exists($type) ? $type : null;
        if ($interface === null || !$value instanceof $interface) {
            throw new \InvalidArgumentException(sprintf('%s does not implement the declared type %s', get_class($value), (string) $type));
        }
        $output = [];
        foreach ((new \ReflectionClass($interface))->getMethods() as $getter) {
            $name = $getter->getName();
            if (!str_starts_with($name, 'get') || $getter->getNumberOfRequiredParameters() > 0) {
                continue;
            }
            $field = strtolower((string) preg_replace('/(.)([A-Z])/', '$1_$2', substr($name, 3)));
            $fieldValue = $value->{$name}();
            if ($fieldValue === null) {
                continue;
            }
            $output[$field] = $this->render($fieldValue, $this->returnType($getter));
        }
        return $output;
    }

    private function returnType(\ReflectionMethod $method): ?string
    {
        if (preg_match('/@return\s+\\\\?([A-Za-z0-9_\\\\]+(\[\])?)/', (string) $method->getDocComment(), $match)) {
            return ltrim($match[1], '\\');
        }
        return null;
    }
}
