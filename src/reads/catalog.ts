// The catalog behind `catalog` (boards and tools): items by SKU. Read through
// the request's snapshot handle (Loaders.db), so it agrees with the decision
// beside it in the same operation.
import type { Queryable } from '../db/client.js';

export interface ItemRow { sku: string; title: string; category: string }

export interface CatalogFilter {
  /** Case-insensitive, on SKU or title; LIKE wildcards in it match themselves. */
  search: string | null;
  category: string | null;
  limit: number;
}

export async function readCatalog(db: Queryable, f: CatalogFilter): Promise<ItemRow[]> {
  const like = f.search === null ? null : `%${f.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return db<ItemRow[]>`
    select sku, title, category from items
    where (${like}::text is null or sku ilike ${like} or title ilike ${like})
      and (${f.category}::text is null or category = ${f.category})
    order by sku limit ${f.limit}`;
}
