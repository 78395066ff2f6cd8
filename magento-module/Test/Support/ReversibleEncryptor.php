<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

use Magento\Framework\Encryption\EncryptorInterface;

/** Stands in for Magento's encryptor: values are stored transformed, as core_config_data holds them. */
final class ReversibleEncryptor implements EncryptorInterface
{
    public function encrypt($data)
    {
        return '0:3:' . base64_encode(strrev((string) $data));
    }

    public function decrypt($data)
    {
        if (!str_starts_with((string) $data, '0:3:')) {
            return '';
        }
        return strrev((string) base64_decode(substr((string) $data, 4), true));
    }
}
