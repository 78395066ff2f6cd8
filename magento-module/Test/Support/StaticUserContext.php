<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Test\Support;

use Magento\Authorization\Model\UserContextInterface;

/** The request's authenticated user, as the webapi authorization would set it. */
final class StaticUserContext implements UserContextInterface
{
    public function __construct(public ?int $userId = null, public ?int $userType = null)
    {
    }

    public function getUserId()
    {
        return $this->userId;
    }

    public function getUserType()
    {
        return $this->userType;
    }
}
