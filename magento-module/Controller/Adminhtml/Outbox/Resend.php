<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Controller\Adminhtml\Outbox;

use Magento\Backend\App\Action;
use Magento\Backend\App\Action\Context;
use Magento\Framework\App\Action\HttpPostActionInterface;
use Magento\Framework\Controller\Result\Redirect;
use Tillbridge\Connector\Model\Outbox\Resender;

/**
 * The row action "Resend" in the failed list.
 */
class Resend extends Action implements HttpPostActionInterface
{
    public const ADMIN_RESOURCE = 'Tillbridge_Connector::outbox';

    public function __construct(Context $context, private readonly Resender $resender)
    {
        parent::__construct($context);
    }

    public function execute(): Redirect
    {
        $id = (int) $this->getRequest()->getParam('id');
        try {
            $count = $this->resender->resend([$id]);
            $this->messageManager->addSuccessMessage(
                __('%1 event(s) queued again; the next cron run (within a minute) sends them.', $count)
            );
        } catch (\Throwable $e) {
            $this->messageManager->addErrorMessage(__('Event %1 could not be queued again: %2', $id, $e->getMessage()));
        }
        return $this->resultRedirectFactory->create()->setPath('*/*/failed');
    }
}
