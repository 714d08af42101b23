// Container healthcheck (Dockerfile HEALTHCHECK, docker-compose.yml): exits 0 when the app's
// readiness endpoint answers 2xx within 2 s, 1 otherwise. Plain Node, so the image needs no curl.
const port = process.env.PORT || '3000';

try {
  const response = await fetch(`http://127.0.0.1:${port}/health/ready`, {
    signal: AbortSignal.timeout(2000),
  });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
