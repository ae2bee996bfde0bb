-- The peer's read (bench:peer only, never migrated into the product): the
-- candidate signals a decision shows, as one SQL function PostGraphile serves.
-- Same sources as the gateway's readState (src/reads/decision-sql.ts): stock,
-- price, velocity from the same rings (velocity_window over sku_counters), and
-- whether any active SKU or CATEGORY flag holds the candidate. No facts, no
-- intent, no transaction: what a team would write by hand for PostGraphile.
create schema if not exists peer;

create type peer.candidate_signal as (
  sku text, available integer, reserved integer, amount_minor integer, currency text,
  sales_last_5s integer, sales_last_5m integer, clicks_last_30s integer, held boolean
);

create function peer.candidate_signals(skus text[]) returns setof peer.candidate_signal
language sql stable parallel safe as $$
  select c.sku, inv.available, inv.reserved, p.amount_minor, p.currency,
         velocity_window(k.sales_5s, k.ring_ds, k.sales_rel, t.ds - 50),
         velocity_window(k.sales_5m, k.ring_ds / 10, k.sales_rel, t.ds / 10 - 300),
         velocity_window(k.clicks_30s, k.ring_ds, k.clicks_rel, t.ds - 300),
         exists (select 1 from policy_flags f where f.active
                   and ((f.scope = 'SKU' and f.target = c.sku) or (f.scope = 'CATEGORY' and f.target = i.category)))
  from unnest(skus) with ordinality as c(sku, ord)
  cross join (select floor(extract(epoch from now()) * 10)::bigint as ds offset 0) t
  left join items i on i.sku = c.sku
  left join inventory inv on inv.sku = c.sku
  left join prices p on p.sku = c.sku
  left join sku_counters k on k.sku = c.sku
  order by c.ord
$$;

comment on function peer.candidate_signals(text[]) is E'@behavior -connection +list';
