// PostGraphile 5 serving peer.candidate_signals (bench/peer/candidates.sql) as
// a separate process, for bench/peer.ts: the peer users would pick instead.
// Its pool gets the gateway's planner settings (src/db/client.ts), or its plans
// would be unfairly slow. Env: DATABASE_URL, PORT, PG_POOL_MAX.
import http from 'node:http';

// PostGraphile 5 calls Promise.withResolvers (Node 22+); Node 20 lacks it.
type WithResolvers = <T>() => { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void };
const P = Promise as unknown as { withResolvers?: WithResolvers };
P.withResolvers ??= <T>() => {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
};

// Imported after the polyfill, so no module sees Promise without it.
const [{ postgraphile }, { PostGraphileAmberPreset }, { makePgService }, { grafserv }, { default: pg }] = await Promise.all([
  import('postgraphile'), import('postgraphile/presets/amber'), import('postgraphile/adaptors/pg'),
  import('postgraphile/grafserv/node'), import('pg'),
]);

const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.PG_POOL_MAX || 16),
  application_name: 'peer-postgraphile',
  // The same planner settings as the gateway's pool (src/db/client.ts createSql).
  options: '-c random_page_cost=1.1 -c plan_cache_mode=force_generic_plan',
});

const pgl = postgraphile({
  extends: [PostGraphileAmberPreset],
  pgServices: [makePgService({ pool, schemas: ['peer'] })],
  grafserv: { graphiql: false, watch: false },
  grafast: { explain: false },
});
const serv = pgl.createServ(grafserv);
const server = http.createServer();
serv.addTo(server);
await pgl.getSchema(); // built before the first request, as the gateway's is
const port = Number(process.env.PORT || 5678);
server.listen(port, '127.0.0.1', () => console.log(`peer listening on http://127.0.0.1:${port}/graphql`));
const stop = () => { server.close(); void Promise.resolve(pgl.release()).then(() => pool.end()).then(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
