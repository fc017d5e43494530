// Prints an operator token signed with AUTH_JWT_SECRET, for local use and scripts:
// npm run token -- SUBJECT ROLE[,ROLE...] [HOURS]. It carries AUTH_ISSUER and AUTH_AUDIENCE
// when they are set, and expires after HOURS (1 by default).
import { SignJWT } from 'jose';
import { isRole, ROLES } from '../server/auth/permissions.ts';
import { loadConfigOrExit } from '../server/config.ts';

const config = loadConfigOrExit();
const [subject, roleList, hours = '1'] = process.argv.slice(2);
const roles = (roleList ?? '').split(',').filter((role) => role !== '');
const lifetime = Number(hours);

if (!config.AUTH_JWT_SECRET) {
  process.stderr.write(
    'AUTH_JWT_SECRET is not set. Set it in .env to a secret of 32 characters or more.\n',
  );
  process.exit(1);
}
if (
  !subject ||
  roles.length === 0 ||
  !roles.every(isRole) ||
  !(lifetime > 0 && lifetime <= 24 * 30)
) {
  process.stderr.write(
    `Usage: npm run token -- SUBJECT ROLE[,ROLE...] [HOURS], with roles from ${ROLES.join(', ')} and HOURS from 1 to 720.\n`,
  );
  process.exit(2);
}

let token = new SignJWT({ [config.AUTH_ROLES_CLAIM]: roles })
  .setProtectedHeader({ alg: 'HS256' })
  .setSubject(subject)
  .setIssuedAt()
  .setExpirationTime(`${lifetime}h`);
if (config.AUTH_ISSUER) token = token.setIssuer(config.AUTH_ISSUER);
if (config.AUTH_AUDIENCE) token = token.setAudience(config.AUTH_AUDIENCE);
process.stdout.write(`${await token.sign(new TextEncoder().encode(config.AUTH_JWT_SECRET))}\n`);
