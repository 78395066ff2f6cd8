<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Model\Payload;

use Magento\Catalog\Api\ProductRepositoryInterface;
use Magento\Customer\Api\CustomerRepositoryInterface;
use Magento\Customer\Api\Data\CustomerInterface;
use Magento\Framework\Webapi\ServiceOutputProcessor;
use Magento\Sales\Api\CreditmemoRepositoryInterface;
use Magento\Sales\Api\Data\CreditmemoInterface;
use Magento\Sales\Api\OrderRepositoryInterface;

/**
 * Renders entities exactly as the REST API's GET routes return them: loaded through the service
 * contract (so extension attributes are filled in) and turned into arrays by the same output
 * processor the webapi uses, following the repository method's declared return type.
 */
class EntityRenderer
{
    public const ORDER = 'order';
    public const CUSTOMER = 'customer';
    public const CREDITMEMO = 'creditmemo';
    public const PRODUCT = 'product';

    public function __construct(
        private readonly ServiceOutputProcessor $outputProcessor,
        private readonly OrderRepositoryInterface $orders,
        private readonly CustomerRepositoryInterface $customers,
        private readonly CreditmemoRepositoryInterface $creditmemos,
        private readonly ProductRepositoryInterface $products
    ) {
    }

    /** @return array<string, mixed> as GET /V1/orders/{id} */
    public function order(int $orderId): array
    {
        return $this->output($this->orders->get($orderId), OrderRepositoryInterface::class, 'get');
    }

    /** @return array<string, mixed> as GET /V1/customers/{id} */
    public function customer(CustomerInterface $customer): array
    {
        return $this->output($customer, CustomerRepositoryInterface::class, 'getById');
    }

    /** @return array<string, mixed> as GET /V1/creditmemo/{id} */
    public function creditmemo(CreditmemoInterface $creditmemo): array
    {
        return $this->output($creditmemo, CreditmemoRepositoryInterface::class, 'get');
    }

    /** @return array<string, mixed> as GET /V1/products/{sku} */
    public function product(int $productId, ?int $storeId = null): array
    {
        $product = $this->products->getById($productId, false, $storeId, true);
        return $this->output($product, ProductRepositoryInterface::class, 'get');
    }

    /**
     * Renders an entity from its type and ID, as it is now (used when resending a row whose
     * rendering failed when it was written).
     *
     * @return array<string, mixed>
     */
    public function byReference(string $entityType, string $entityRef): array
    {
        $id = (int) $entityRef;
        return match ($entityType) {
            self::ORDER => $this->order($id),
            self::CUSTOMER => $this->customer($this->customers->getById($id)),
            self::CREDITMEMO => $this->creditmemo($this->creditmemos->get($id)),
            self::PRODUCT => $this->product($id),
            default => throw new \InvalidArgumentException(sprintf('unknown entity type "%s"', $entityType)),
        };
    }

    /** @return array<string, mixed> */
    private function output(object $entity, string $serviceClass, string $method): array
    {
        $rendered = $this->outputProcessor->process($entity, $serviceClass, $method);
        if (!is_array($rendered)) {
            throw new \UnexpectedValueException(sprintf('%s::%s rendered %s, not an object', $serviceClass, $method, get_debug_type($rendered)));
        }
        return $rendered;
    }
}
