// Item-state writes: catalog upserts, stock levels and prices.
import type { Sql } from '../db/client.js';
import type { Timestamp } from '../db/timestamps.js';
import { DomainError } from '../errors.js';
import { appendChanges, inventoryChanges } from '../live/changelog.js';
import { inWriteTx, lockSku, lockSkus } from './tx.js';

export interface ItemInput {
  sku: string; title: string; category: string; priceMinor: number; currency: string; available: number;
}

/** previous/previousReserved: before the write (null for a new SKU). */
export interface StockLevel {
  sku: string; available: number; reserved: number; previous: number | null; previousReserved: number | null; updatedAt: Timestamp;
}

export async function upsertItems(sql: Sql, input: ItemInput[]): Promise<StockLevel[]> {
  const items = [...input].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
  const skus = items.map((i) => i.sku);
  if (items.length === 0) return [];
  return inWriteTx(sql, async (tx) => {
    await tx`
      insert into items (sku, title, category)
      select * from unnest(${skus}::text[], ${items.map((i) => i.title)}::text[], ${items.map((i) => i.category)}::text[])
      on conflict (sku) do update set title = excluded.title, category = excluded.category, updated_at = now()
      where (items.title, items.category) is distinct from (excluded.title, excluded.category)`;
    await tx`insert into sku_counters (sku) select unnest(${skus}::text[]) on conflict do nothing`;
    const { clock } = await lockSkus(tx, skus);
    // previous/previousReserved: the main query reads inventory in the statement's snapshot, from
    // before the insert: one index lookup per row, so the statement stays linear in the batch.
    const stock = await tx<StockLevel[]>`
      with up as (
        insert into inventory as i (sku, available, updated_at)
        select *, ${clock.at}::timestamptz from unnest(${skus}::text[], ${items.map((i) => i.available)}::int[])
        on conflict (sku) do update set available = excluded.available, updated_at = ${clock.at}::timestamptz
        where i.available <> excluded.available
        returning i.sku, i.available, i.reserved, i.updated_at)
      select up.sku, up.available, up.reserved, up.updated_at as "updatedAt",
             p.available as previous, p.reserved as "previousReserved"
      from up left join inventory p on p.sku = up.sku`;
    stock.sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0)); // SKU order, as the input was written
    // Sellable stock is available − reserved: a level below the units held refuses the batch (the throw rolls it back).
    const position = new Map(input.map((it, i) => [it.sku, i]));
    const short = stock.filter((s) => s.reserved > s.available)
      .map((s) => ({ ...s, index: position.get(s.sku)! }))
      .sort((a, b) => a.index - b.index);
    if (short.length > 0) {
      const field = `items.${short[0]!.index}.available`;
      const list = short.map((s) => `"${s.sku}" (available ${s.available} < reserved ${s.reserved})`).join(', ');
      throw new DomainError('BAD_USER_INPUT', `${field}: available must not be below the reserved units, for SKU(s) ${list}`,
        { field, skus: short.map((s) => s.sku) });
    }
    await tx`
      insert into prices as p (sku, amount_minor, currency, list_amount_minor, updated_at)
      select s, a, c, a, ${clock.at}::timestamptz from unnest(${skus}::text[], ${items.map((i) => i.priceMinor)}::int[],
                                    ${items.map((i) => i.currency)}::text[]) as t(s, a, c)
      on conflict (sku) do update set amount_minor = excluded.amount_minor, currency = excluded.currency,
        list_amount_minor = excluded.list_amount_minor, updated_at = ${clock.at}::timestamptz
      where (p.amount_minor, p.currency, p.list_amount_minor)
        is distinct from (excluded.amount_minor, excluded.currency, excluded.list_amount_minor)`;
    await appendChanges(tx, inventoryChanges(stock, 'UPSERT'));
    return stock; // only SKUs whose stock changed
  });
}

export async function setInventory(sql: Sql, sku: string, available: number, reserved: number | null): Promise<StockLevel> {
  return inWriteTx(sql, async (tx) => {
    const clock = await lockSku(tx, sku);
    const [row] = await tx<StockLevel[]>`
      with prev as (select available, reserved from inventory where sku = ${sku})
      update inventory set available = ${available}, reserved = coalesce(${reserved}::int, reserved),
        updated_at = case when (available, reserved) is distinct from (${available}::int, coalesce(${reserved}::int, reserved))
                          then ${clock.at}::timestamptz else updated_at end
      where sku = ${sku}
      returning sku, available, reserved, updated_at as "updatedAt",
        (select available from prev) as previous, (select reserved from prev) as "previousReserved"`;
    // Checked after the update, so an omitted `reserved` is the stored one; the throw rolls the update back.
    if (row!.reserved > row!.available) {
      const field = reserved === null ? 'available' : 'reserved';
      throw new DomainError('BAD_USER_INPUT', reserved === null
        ? `available: ${available} is below the ${row!.reserved} units reserved for SKU "${sku}"`
        : `reserved: ${reserved} exceeds available ${available} for SKU "${sku}"`, { field, sku });
    }
    await appendChanges(tx, inventoryChanges([row!], 'SET_INVENTORY'));
    return row!;
  });
}

export interface PriceRow { sku: string; amountMinor: number; currency: string; listAmountMinor: number; updatedAt: Timestamp }

// A price change moves the selling price; the list price stays unless the
// currency changes (a list price in another currency would mean nothing).
export async function setPrice(sql: Sql, sku: string, amountMinor: number, currency: string): Promise<PriceRow> {
  return inWriteTx(sql, async (tx) => {
    // Locked first, as every writer of a SKU does, so the clock is read after any write it waits for.
    const clock = await lockSku(tx, sku);
    const [row] = await tx<PriceRow[]>`
      update prices set amount_minor = ${amountMinor}, currency = ${currency},
        list_amount_minor = case when currency = ${currency} then list_amount_minor else ${amountMinor} end,
        updated_at = ${clock.at}::timestamptz
      where sku = ${sku}
      returning sku, amount_minor as "amountMinor", currency, list_amount_minor as "listAmountMinor", updated_at as "updatedAt"`;
    if (!row) throw new DomainError('NOT_FOUND', `Unknown SKU "${sku}"`, { sku });
    return row;
  });
}
