// `npm run keys -- create <role[,role…]> <name> [--json]` prints a new key once;
// `npm run keys -- revoke <id> [--json]`; `npm run keys -- list [--json]`. Works against
// DATABASE_URL or the embedded database (a running gateway's, if one is up).
import { createKey, listKeys, parseRoles, revokeKey, ROLES } from '../auth/keys.js';
import { loadConfig } from '../config.js';
import { createSql } from '../db/client.js';
import { openForScript } from '../db/database.js';
import { createLogger } from '../logger.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const [command, ...rest] = args.filter((a) => a !== '--json');
const usage = `usage: npm run keys -- create <role[,role…]> <name> | revoke <id> | list   (roles: ${ROLES.join(', ')}; add --json for scripts)`;
const out = (value: unknown, text: string) => console.log(json ? JSON.stringify(value) : text);

const roles = command === 'create' ? parseRoles(rest[0] ?? '') : null;
if (!(command === 'create' && roles && rest[1]) && !(command === 'revoke' && rest[0]) && command !== 'list') {
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
    const { id, key } = await createKey(sql, roles!, name);
    out({ id, key, roles, name }, `created key ${id} (${roles!.join(', ')}). It is shown only once:\n${key}`);
  } else if (command === 'revoke') {
    const revoked = await revokeKey(sql, rest[0]!);
    out({ id: rest[0], revoked }, revoked ? `revoked ${rest[0]}` : `no active key ${rest[0]}`);
    code = revoked ? 0 : 1;
  } else {
    const keys = await listKeys(sql);
    if (json) out(keys, '');
    else for (const k of keys) console.log(`${k.id}  ${k.roles.join(',').padEnd(24)}  ${k.revokedAt ? 'revoked' : 'active '}  ${k.name}`);
  }
} finally {
  await sql.end();
  await db.embedded?.stop();
}
process.exit(code);
