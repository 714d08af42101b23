#!/usr/bin/env node
// Prints an HS256 access token for Rivulet (testing and local use).
//
//   node scripts/mint-token.mjs <AUTH_JWT_SECRET> [--sub ann] [--subscribe 'orders*,monitor']
//                               [--publish 'chat:*,user:*,broadcast'] [--expires 1h]
//
// The secret is taken as an argument (never read from the environment) so the script cannot pick up
// a production secret by accident. The token is signed by src/scripts/sign-token.ts, the one minter
// that dist/scripts/mint-token.js and the tests use too (loaded with ts-node: no build needed).
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
require('ts-node').register({
  transpileOnly: true,
  project: new URL('../tsconfig.json', import.meta.url).pathname,
});
const { signToken } = require('../src/scripts/sign-token.ts');

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

const subscribe = list(values.subscribe);
const publish = list(values.publish);
const scopes = subscribe.length > 0 || publish.length > 0 ? { subscribe, publish } : {};
process.stdout.write(
  `${await signToken(secret, { sub: values.sub, ...scopes }, values.expires)}\n`,
);
