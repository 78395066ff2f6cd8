<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Observer;

use Magento\Catalog\Api\Data\ProductInterface;
use Magento\Framework\Event\Observer;
use Magento\Framework\Event\ObserverInterface;
use Tillbridge\Connector\Model\Outbox\EventName;
use Tillbridge\Connector\Model\Outbox\Writer;
use Tillbridge\Connector\Model\Payload\EntityRenderer;

/**
 * catalog_product_save_after: a product was saved (admin, import through the repository, REST).
 */
class ProductSaved implements ObserverInterface
{
    public function __construct(
        private readonly Writer $writer,
        private readonly EntityRenderer $renderer
    ) {
    }

    public function execute(Observer $observer): void
    {
        $product = $observer->getEvent()->getData('product');
        if (!$product instanceof ProductInterface || !$product->getId()) {
            return;
        }
        $productId = (int) $product->getId();
        $storeId = method_exists($product, 'getStoreId') ? (int) $product->getStoreId() : 0;
        $this->writer->record(
            EventName::PRODUCT_SAVED,
            EntityRenderer::PRODUCT,
            (string) $productId,
            $storeId,
            fn (): array => $this->renderer->product($productId, $storeId)
        );
    }
}
