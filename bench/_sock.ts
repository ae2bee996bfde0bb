import postgres from 'postgres';
import { benchDatabase } from './setup.js';
const db = await benchDatabase();
console.log(await db.sql`show unix_socket_directories`, await db.sql`show port`);
const port = Number((await db.sql`show port`)[0]!.port);
const dbname = new URL(db.url).pathname.slice(1);
for (const [name, opts] of [['tcp', {}], ['unix', { host: '/tmp', port }]] as const) {
  const s = name === 'tcp' ? postgres(db.url, { max: 4 }) : postgres({ ...opts, database: dbname, user: 'postgres', password: 'postgres', max: 4 });
  for (let i = 0; i < 200; i++) await s`select 1`;
  const c0 = process.cpuUsage(); const t0 = performance.now();
  await Promise.all(Array.from({ length: 4 }, async () => { for (let i = 0; i < 2000; i++) await s`select ${i}::int as x`; }));
  const cpu = process.cpuUsage(c0);
  console.log(name, 'ms/query wall', ((performance.now() - t0) / 8000).toFixed(3), 'node cpu µs/query', ((cpu.user + cpu.system) / 8000).toFixed(1), 'sys', (cpu.system / 8000).toFixed(1));
  await s.end();
}
await db.close();
