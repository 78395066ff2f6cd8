<?php
declare(strict_types=1);

// Test double: Magento's Phrase with positional (%1) placeholder rendering.
namespace Magento\Framework;

class Phrase implements \JsonSerializable
{
    public function __construct(private readonly string $text, private readonly array $arguments = [])
    {
    }

    public function getText(): string
    {
        return $this->text;
    }

    public function getArguments(): array
    {
        return $this->arguments;
    }

    public function render(): string
    {
        $text = $this->text;
        foreach (array_values($this->arguments) as $index => $argument) {
            $text = str_replace('%' . ($index + 1), (string) $argument, $text);
        }
        return $text;
    }

    public function __toString(): string
    {
        return $this->render();
    }

    public function jsonSerialize(): string
    {
        return $this->render();
    }
}
