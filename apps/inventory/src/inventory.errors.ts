import { INVENTORY_ERRORS, type OutOfStockData } from '../../common/src/contracts';

/**
 * Thrown by the inventory.reserve handler; Warren sends its name, message, `code`
 * and `data` back to the caller, who gets an RpcRemoteError with the same fields.
 */
export class OutOfStockError extends Error {
  readonly code = INVENTORY_ERRORS.outOfStock;

  constructor(readonly data: OutOfStockData) {
    super(`only ${data.available} of '${data.sku}' in stock, ${data.requested} requested`);
    this.name = 'OutOfStockError';
  }
}

export class UnknownSkuError extends Error {
  readonly code = INVENTORY_ERRORS.unknownSku;

  constructor(readonly data: { sku: string }) {
    super(`no product '${data.sku}' in the catalogue`);
    this.name = 'UnknownSkuError';
  }
}
