// `npm run keys -- create <role[,role…]> <name> [--rate-limit <spec>] [--json]` prints a new key once;
// `npm run keys -- rate-limit <id> <spec|none>` sets a key's own rate limit (spec as in RATE_LIMITS: 100/s:burst200);
// `npm run keys -- revoke <id> [--json]`; `npm run keys -- list [--json]`. Works against
// DATABASE_URL or the embedded database (a running gateway's, if one is up).
import { createKey, listKeys, parseRoles, revokeKey, ROLES, setKeyRateLimit } from '../auth/keys.js';
import { parseRateSpec } from '../auth/rate-limits.js';
import { loadConfig } from '../config.js';
import { createSql } from '../db/client.js';
import { openForScript } from '../db/database.js';
import { createLogger } from '../logger.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const flag = args.indexOf('--rate-limit');
const rateFlag = flag >= 0 ? args[flag + 1] ?? '' : null;
const [command, ...rest] = args.filter((a, i) => a !== '--json' && (flag < 0 || (i !== flag && i !== flag + 1)));
const usage = `usage: npm run keys -- create <role[,role…]> <name> [--rate-limit <spec>] | rate-limit <id> <spec|none> | revoke <id> | list`
  + `   (roles: ${ROLES.join(', ')}; spec: N/s or N/m, optionally :burstM, e.g. 100/s:burst200; add --json for scripts)`;
const out = (value: unknown, text: string) => console.log(json ? JSON.stringify(value) : text);

const roles = command === 'create' ? parseRoles(rest[0] ?? '') : null;
const spec = command === 'rate-limit' ? (rest[1] === 'none' ? null : rest[1] ?? '') : rateFlag;
if (spec !== null && !parseRateSpec(spec)) {
  console.error(`not a rate limit: "${spec}" (N/s or N/m, optionally :burstM with M ≥ N, e.g. 100/s:burst200)`);
  process.exit(2);
}
if (!(command === 'create' && roles && rest[1]) && !(command === 'revoke' && rest[0]) && !(command === 'rate-limit' && rest[0] && rest[1])
  && command !== 'list') {
  console.error(usage);
  process.exit(2);
}
const config = loadConfig();
const db = await openForScript(config, createLogger('warn'));
const sql = createSql(db.url, config);
let code = 0;
try {
  if (command === 'create') {
    const name = rest.slice(1).join(' ');
    const { id, key } = await createKey(sql, roles!, name, spec);
    out({ id, key, roles, name, rateLimit: spec }, `created key ${id} (${roles!.join(', ')}${spec ? `; rate limit ${spec}` : ''}). It is shown only once:\n${key}`);
  } else if (command === 'rate-limit') {
    const set = await setKeyRateLimit(sql, rest[0]!, spec);
    out({ id: rest[0], rateLimit: spec, set }, set ? `${rest[0]}: rate limit ${spec ?? 'of its roles (RATE_LIMITS)'}` : `no active key ${rest[0]}`);
    code = set ? 0 : 1;
  } else if (command === 'revoke') {
    const revoked = await revokeKey(sql, rest[0]!);
    out({ id: rest[0], revoked }, revoked ? `revoked ${rest[0]}` : `no active key ${rest[0]}`);
    code = revoked ? 0 : 1;
  } else {
    const keys = await listKeys(sql);
    if (json) out(keys, '');
    else for (const k of keys) console.log(`${k.id}  ${k.roles.join(',').padEnd(24)}  ${k.revokedAt ? 'revoked' : 'active '}  ${(k.rateLimit ?? '-').padEnd(16)}  ${k.name}`);
  }
} finally {
  await sql.end();
  await db.embedded?.stop();
}
process.exit(code);
