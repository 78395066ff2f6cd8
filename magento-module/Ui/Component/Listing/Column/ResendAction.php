<?php
declare(strict_types=1);

namespace Tillbridge\Connector\Ui\Component\Listing\Column;

use Magento\Framework\UrlInterface;
use Magento\Framework\View\Element\UiComponent\ContextInterface;
use Magento\Framework\View\Element\UiComponentFactory;
use Magento\Ui\Component\Listing\Columns\Column;

class ResendAction extends Column
{
    /**
     * @param array<string, mixed> $components
     * @param array<string, mixed> $data
     */
    public function __construct(
        ContextInterface $context,
        UiComponentFactory $uiComponentFactory,
        private readonly UrlInterface $urlBuilder,
        array $components = [],
        array $data = []
    ) {
        parent::__construct($context, $uiComponentFactory, $components, $data);
    }

    /**
     * @param array<string, mixed> $dataSource
     * @return array<string, mixed>
     */
    public function prepareDataSource(array $dataSource): array
    {
        foreach ($dataSource['data']['items'] ?? [] as $index => $item) {
            if (!isset($item['entity_id'])) {
                continue;
            }
            $dataSource['data']['items'][$index][$this->getData('name')] = [
                'resend' => [
                    'href' => $this->urlBuilder->getUrl('tillbridge/outbox/resend', ['id' => $item['entity_id']]),
                    'label' => __('Resend'),
                    'post' => true,
                    'confirm' => [
                        'title' => __('Resend event %1', $item['event_id'] ?? ''),
                        'message' => __('Queue this event again with a fresh attempt budget?'),
                    ],
                ],
            ];
        }
        return $dataSource;
    }
}
