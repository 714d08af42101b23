// The `tls-cert` one-shot of docker-compose.yml: makes a self-signed certificate for localhost on
// the stack's first start, in the directory nginx reads its certificate from (mounted here on
// /certs, in nginx on /etc/rivulet/tls; nginx/certificate.conf names the files). A pair that is
// already there (an earlier start's, or your own, mounted with TLS_CERT_DIR) is left alone, so the
// certificate is made once and kept in the tls-certs volume. It runs in the app's own image (Node
// and @peculiar/x509 are there), so the first start needs no network and no extra image.
// docs/deploy.md ("HTTPS and certificates").
//   node scripts/tls-self-signed.mjs [directory]     (default /certs)
import 'reflect-metadata'; // @peculiar/x509's dependency injection (tsyringe) needs it first
import * as x509 from '@peculiar/x509';
import { KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** 825 days: the longest validity Apple platforms accept for a TLS server certificate. */
const VALID_DAYS = 825;
const NAMES = [
  { type: 'dns', value: 'localhost' },
  { type: 'ip', value: '127.0.0.1' },
  { type: 'ip', value: '::1' },
];

const dir = process.argv[2] ?? '/certs';
const cert = path.join(dir, 'fullchain.pem');
const key = path.join(dir, 'privkey.pem');
const nonEmpty = (file) => existsSync(file) && statSync(file).size > 0;

if (nonEmpty(cert) && nonEmpty(key)) {
  console.log(`tls-cert: ${dir} already holds fullchain.pem and privkey.pem; using them`);
  process.exit(0);
}
if (existsSync(cert) || existsSync(key)) {
  console.error(
    `tls-cert: ${dir} holds only one of fullchain.pem and privkey.pem (or an empty one); ` +
      'put both there, or neither to get a self-signed pair',
  );
  process.exit(1);
}

// ECDSA P-256 with SHA-256: small, fast, accepted by every current browser.
x509.cryptoProvider.set(webcrypto);
const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
const notBefore = new Date(Date.now() - 60_000); // a minute of slack for clocks slightly behind
const certificate = await x509.X509CertificateGenerator.createSelfSigned({
  // A positive 16-byte serial (RFC 5280: up to 20 octets, unique per issuer).
  serialNumber: `01${randomBytes(15).toString('hex')}`,
  name: 'CN=localhost',
  notBefore,
  notAfter: new Date(notBefore.getTime() + VALID_DAYS * 86_400_000),
  signingAlgorithm: algorithm,
  keys,
  extensions: [
    new x509.SubjectAlternativeNameExtension(NAMES),
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
  ],
});

mkdirSync(dir, { recursive: true });
// The key is readable by its owner only (nginx's master process reads it as root). Both files are
// written under temporary names and renamed into place, the certificate last: an interrupted run
// leaves no pair that looks complete.
const privateKey = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' });
writeFileSync(`${key}.tmp`, privateKey, { mode: 0o600 });
writeFileSync(`${cert}.tmp`, certificate.toString('pem') + '\n', { mode: 0o644 });
renameSync(`${key}.tmp`, key);
renameSync(`${cert}.tmp`, cert);
console.log(
  `tls-cert: made a self-signed certificate for localhost in ${dir} (valid ${VALID_DAYS} days)`,
);
