<?php
declare(strict_types=1);

/*
 * Loads the module without a Magento installation. Inside a Magento project the real classes come
 * first (Composer's autoloader is registered before this one); only what is missing falls back to
 * the minimal doubles under Test/Double.
 */

$moduleRoot = dirname(__DIR__);
$composer = $moduleRoot . '/vendor/autoload.php';
if (is_file($composer)) {
    require $composer;
}

spl_autoload_register(static function (string $class) use ($moduleRoot): void {
    $prefixes = [
        'Tillbridge\\Connector\\' => $moduleRoot . '/',
        'Magento\\' => $moduleRoot . '/Test/Double/Magento/',
        'Psr\\Log\\' => $moduleRoot . '/Test/Double/Psr/Log/',
    ];
    foreach ($prefixes as $prefix => $dir) {
        if (str_starts_with($class, $prefix)) {
            $file = $dir . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
            if (is_file($file)) {
                require $file;
            }
            return;
        }
    }
});

if (!function_exists('__')) {
    function __(string $text, ...$arguments): \Magento\Framework\Phrase
    {
        return new \Magento\Framework\Phrase($text, $arguments);
    }
}
