// `npm run build` starts from an empty dist/, so a source file deleted or renamed leaves no stale
// compiled copy behind (what nest-cli.json's deleteOutDir did before the build moved to tsc).
import { rmSync } from 'node:fs';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
