#!/usr/bin/env node
// Prints an HS256 access token for Rivulet (testing and local use).
//
//   node scripts/mint-token.mjs <AUTH_JWT_SECRET> [--sub ann] [--subscribe 'orders*,monitor']
//                               [--publish 'chat:*,user:*,broadcast'] [--expires 1h]
//
// The secret is taken as an argument (never read from the environment) so the script cannot pick up
// a production secret by accident.
import { SignJWT } from 'jose';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    sub: { type: 'string' },
    subscribe: { type: 'string', default: '' },
    publish: { type: 'string', default: '' },
    expires: { type: 'string', default: '1h' },
  },
});

const secret = positionals[0];
if (!secret) {
  process.stderr.write(
    'usage: node scripts/mint-token.mjs <AUTH_JWT_SECRET> [--sub id] [--subscribe p1,p2] [--publish p1,p2] [--expires 1h]\n',
  );
  process.exit(2);
}

const list = (value) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const payload = {};
const subscribe = list(values.subscribe);
const publish = list(values.publish);
if (subscribe.length > 0 || publish.length > 0) payload.rivulet = { subscribe, publish };

const jwt = new SignJWT(payload)
  .setProtectedHeader({ alg: 'HS256' })
  .setIssuedAt()
  .setExpirationTime(values.expires);
if (values.sub) jwt.setSubject(values.sub);

process.stdout.write(`${await jwt.sign(new TextEncoder().encode(secret))}\n`);
