// `npm run keys -- create <reader|subscriber|writer|admin> <name>` prints a new key once;
// `npm run keys -- revoke <id>`; `npm run keys -- list`. Works against DATABASE_URL or the
// embedded database (a running gateway's, if one is up).
import { createKey, listKeys, revokeKey, ROLES, type Role } from '../auth/keys.js';
import { loadConfig } from '../config.js';
import { createSql } from '../db/client.js';
import { openForScript } from '../db/database.js';
import { createLogger } from '../logger.js';

const [command, ...rest] = process.argv.slice(2);
const usage = 'usage: npm run keys -- create <reader|subscriber|writer|admin> <name> | revoke <id> | list';
const config = loadConfig();
const db = await openForScript(config, createLogger('warn'));
const sql = createSql(db.url, config);
let code = 0;
try {
  if (command === 'create' && ROLES.includes(rest[0] as Role) && rest[1]) {
    const { id, key } = await createKey(sql, rest[0] as Role, rest.slice(1).join(' '));
    console.log(`created key ${id} (${rest[0]}). It is shown only once:\n${key}`);
  } else if (command === 'revoke' && rest[0]) {
    const revoked = await revokeKey(sql, rest[0]);
    console.log(revoked ? `revoked ${rest[0]}` : `no active key ${rest[0]}`);
    code = revoked ? 0 : 1;
  } else if (command === 'list') {
    for (const k of await listKeys(sql)) console.log(`${k.id}  ${k.role.padEnd(10)}  ${k.revokedAt ? 'revoked' : 'active '}  ${k.name}`);
  } else {
    console.error(usage);
    code = 2;
  }
} finally {
  await sql.end();
  await db.embedded?.stop();
}
process.exit(code);
