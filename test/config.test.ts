// Settings a newcomer mistypes fail the start with one line naming the setting (the start prints the message).
import { expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';

it('names the setting of an out-of-range port or an unknown log level; WORKERS 0 means one process', () => {
  expect(() => loadConfig({ PORT: '99999' })).toThrow(/^PORT must be a TCP port from 0 to 65535, got "99999"$/);
  expect(() => loadConfig({ EMBEDDED_PG_PORT: '70000' })).toThrow(/^EMBEDDED_PG_PORT must be a TCP port/);
  expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/^LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"$/);
  expect(loadConfig({ LOG_LEVEL: 'debug', PORT: '0' })).toMatchObject({ logLevel: 'debug', port: 0 });
  expect(loadConfig({ WORKERS: '0' }).workers).toBe(1);
});
