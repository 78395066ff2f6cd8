<?php
declare(strict_types=1);

// Test double: Magento's DataObject with its magic getters and setters.
namespace Magento\Framework;

class DataObject
{
    public function __construct(protected array $_data = [])
    {
    }

    public function getData($key = '', $index = null)
    {
        if ($key === '') {
            return $this->_data;
        }
        return $this->_data[$key] ?? null;
    }

    public function setData($key, $value = null)
    {
        if (is_array($key)) {
            $this->_data = $key;
        } else {
            $this->_data[$key] = $value;
        }
        return $this;
    }

    public function hasData($key = ''): bool
    {
        return array_key_exists($key, $this->_data);
    }

    public function __call($method, $args)
    {
        $key = strtolower((string) preg_replace('/(.)([A-Z])/', '$1_$2', substr($method, 3)));
        return match (substr($method, 0, 3)) {
            'get' => $this->getData($key),
            'set' => $this->setData($key, $args[0] ?? null),
            'has' => $this->hasData($key),
            default => throw new \BadMethodCallException('Invalid method ' . static::class . '::' . $method),
        };
    }
}
