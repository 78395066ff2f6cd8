<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model;

use Magento\Authorization\Model\UserContextInterface;

/**
 * Recognises changes made by Tillbridge itself through REST, so they are not sent back to it.
 *
 * Tillbridge calls Magento with the token of one integration (System › Integrations); the webapi
 * authorization sets the user context to that integration for the whole request.
 */
class LoopGuard
{
    public function __construct(
        private readonly UserContextInterface $userContext,
        private readonly Config $config
    ) {
    }

    public function isOwnChange(): bool
    {
        $integrationId = $this->config->getIntegrationId();
        if ($integrationId === 0) {
            return false;
        }
        return (int) $this->userContext->getUserType() === UserContextInterface::USER_TYPE_INTEGRATION
            && (int) $this->userContext->getUserId() === $integrationId;
    }
}
