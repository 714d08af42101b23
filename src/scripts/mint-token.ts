/**
 * Prints an HS256 access token signed with the secret this installation runs with: the same
 * AUTH_JWT_SECRET (or AUTH_JWT_SECRET_FILE) resolution as the app, so inside the image
 *
 *   docker compose exec app node dist/scripts/mint-token.js --sub ann --publish 'chat:*'
 *
 * mints a token the stack's replicas accept. Options: --sub <id>, --subscribe <p1,p2>,
 * --publish <p1,p2>, --expires <1h>. docs/deploy.md shows it against the compose stack.
 * scripts/mint-token.mjs is the development variant that takes the secret as an argument.
 */
import { SignJWT } from 'jose';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/app-config';
import { ConfigError } from '../config/env.schema';

const USAGE =
  'usage: node dist/scripts/mint-token.js [--sub id] [--subscribe p1,p2] [--publish p1,p2] [--expires 1h]\n';

function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The token for `argv`'s options, signed with the secret of `env` (the process's environment by default). */
export async function mintToken(
  argv: string[],
  env?: Record<string, string | undefined>,
): Promise<string> {
  const { values } = parseArgs({
    args: argv,
    options: {
      sub: { type: 'string' },
      subscribe: { type: 'string', default: '' },
      publish: { type: 'string', default: '' },
      expires: { type: 'string', default: '1h' },
    },
  });
  const secret = loadConfig(env).auth.jwtSecret;
  if (!secret) {
    throw new ConfigError(
      'AUTH_JWT_SECRET: not set (nor AUTH_JWT_SECRET_FILE): the app runs in open mode and needs no token',
    );
  }
  const subscribe = list(values.subscribe);
  const publish = list(values.publish);
  const payload =
    subscribe.length > 0 || publish.length > 0 ? { rivulet: { subscribe, publish } } : {};
  const jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(values.expires);
  if (values.sub) jwt.setSubject(values.sub);
  return jwt.sign(new TextEncoder().encode(secret));
}

if (require.main === module) {
  mintToken(process.argv.slice(2)).then(
    (token) => process.stdout.write(`${token}\n`),
    (error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(`mint-token: ${message}\n${USAGE}`);
      process.exit(error instanceof ConfigError ? 1 : 2);
    },
  );
}
