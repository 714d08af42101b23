// Bundles the demo pages written against npm packages (web/*.jsx) into public/build/, where the
// server serves them with the other demo pages. Run by `npm run build`; the browser tests run it too.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

await build({
  absWorkingDir: root,
  entryPoints: { 'ai-sdk-chat': 'web/ai-sdk-chat.jsx' },
  outdir: 'public/build',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  jsx: 'automatic',
  minify: true,
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
});
