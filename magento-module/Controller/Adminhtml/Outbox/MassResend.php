<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Controller\Adminhtml\Outbox;

use Magento\Backend\App\Action;
use Magento\Backend\App\Action\Context;
use Magento\Framework\App\Action\HttpPostActionInterface;
use Magento\Framework\Controller\Result\Redirect;
use Magento\Ui\Component\MassAction\Filter;
use Tillbridge\Connector\Model\Outbox\Resender;
use Tillbridge\Connector\Model\ResourceModel\Outbox\CollectionFactory;

/**
 * The mass action "Resend" in the failed list (selected rows, or all rows matching the filters).
 */
class MassResend extends Action implements HttpPostActionInterface
{
    public const ADMIN_RESOURCE = 'Tillbridge_Connector::outbox';

    public function __construct(
        Context $context,
        private readonly Filter $filter,
        private readonly CollectionFactory $collectionFactory,
        private readonly Resender $resender
    ) {
        parent::__construct($context);
    }

    public function execute(): Redirect
    {
        try {
            $collection = $this->filter->getCollection($this->collectionFactory->create());
            $ids = array_map('intval', $collection->getAllIds());
            $count = $this->resender->resend($ids);
            $this->messageManager->addSuccessMessage(
                __('%1 event(s) queued again; the next cron run (within a minute) sends them.', $count)
            );
        } catch (\Throwable $e) {
            $this->messageManager->addErrorMessage(__('The events could not be queued again: %1', $e->getMessage()));
        }
        return $this->resultRedirectFactory->create()->setPath('*/*/failed');
    }
}
