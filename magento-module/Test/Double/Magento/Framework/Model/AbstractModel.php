<?php
declare(strict_types=1);

// Test double: the part of Magento's AbstractModel the observers read (ID and original data).
namespace Magento\Framework\Model;

use Magento\Framework\DataObject;

abstract class AbstractModel extends DataObject
{
    protected $_idFieldName = 'entity_id';
    protected ?array $_origData = null;

    public function getId()
    {
        return $this->getData($this->_idFieldName);
    }

    public function getIdFieldName(): string
    {
        return $this->_idFieldName;
    }

    public function getOrigData($key = null)
    {
        if ($key === null) {
            return $this->_origData;
        }
        return $this->_origData[$key] ?? null;
    }

    /** Magento sets original data when a model is loaded from the database. */
    public function setOrigData($key = null, $data = null)
    {
        if ($key === null) {
            $this->_origData = $this->_data;
        } else {
            $this->_origData[$key] = $data;
        }
        return $this;
    }
}
