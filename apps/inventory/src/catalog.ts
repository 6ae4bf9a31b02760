/** A product the shop sells. */
export interface Product {
  sku: string;
  name: string;
  unitPriceCents: number;
  /** Units in stock when inventory first starts against an empty Redis. */
  initialStock: number;
}

/** The sample's catalogue. `limited-mug` runs out quickly; `sold-out-tin` is always out of stock. */
export const CATALOG: readonly Product[] = [
  { sku: 'espresso-beans', name: 'Espresso beans 1 kg', unitPriceCents: 1_450, initialStock: 100_000 },
  { sku: 'grinder', name: 'Burr grinder', unitPriceCents: 8_900, initialStock: 10_000 },
  { sku: 'kettle', name: 'Gooseneck kettle', unitPriceCents: 4_500, initialStock: 10_000 },
  { sku: 'filter-papers', name: 'Filter papers (100)', unitPriceCents: 350, initialStock: 100_000 },
  { sku: 'limited-mug', name: 'Limited edition mug', unitPriceCents: 2_500, initialStock: 3 },
  { sku: 'sold-out-tin', name: 'Collector tin', unitPriceCents: 1_990, initialStock: 0 },
];

export function findProduct(sku: string): Product | undefined {
  return CATALOG.find((product) => product.sku === sku);
}
