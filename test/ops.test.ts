// Liveness and readiness for orchestrators.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { liveGateway, type LiveGateway } from './live-helpers.js';

let gw: LiveGateway;
beforeAll(async () => { gw = await liveGateway(); });
afterAll(() => gw.stop());

it('GET /health answers while the process is up', async () => {
  const res = await fetch(gw.url.replace('/graphql', '/health'));
  expect(res.status).toBe(200);
});

it('GET /ready reports the database, migrations and change listener, and 503 when one is missing', async () => {
  const ready = await fetch(gw.url.replace('/graphql', '/ready'));
  expect(ready.status).toBe(200);
  expect(await ready.json()).toEqual({ ready: true, database: true, migrations: true, changeListener: true });
  await gw.hub.stop();
  const notReady = await fetch(gw.url.replace('/graphql', '/ready'));
  expect(notReady.status).toBe(503);
  expect(await notReady.json()).toMatchObject({ ready: false, changeListener: false, database: true });
});
