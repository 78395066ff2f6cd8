<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Controller\Adminhtml\Outbox;

use Magento\Backend\App\Action;
use Magento\Backend\App\Action\Context;
use Magento\Framework\App\Action\HttpGetActionInterface;
use Magento\Framework\View\Result\Page;
use Magento\Framework\View\Result\PageFactory;

/**
 * System › Tillbridge › Failed events: the outbox rows that were not delivered.
 */
class Failed extends Action implements HttpGetActionInterface
{
    public const ADMIN_RESOURCE = 'Tillbridge_Connector::outbox';

    public function __construct(Context $context, private readonly PageFactory $pageFactory)
    {
        parent::__construct($context);
    }

    public function execute(): Page
    {
        $page = $this->pageFactory->create();
        $page->setActiveMenu('Tillbridge_Connector::outbox_failed');
        $page->getConfig()->getTitle()->prepend(__('Tillbridge: failed events'));
        return $page;
    }
}
