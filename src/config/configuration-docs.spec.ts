import { readFileSync } from 'node:fs';
import path from 'node:path';
import { envSchema } from './env.schema';

/**
 * docs/configuration.md is the one table of variables: every variable the schema reads has a row
 * (or is named in one, as MAX_HISTORY_SIZE is), and every variable a row names is one the schema reads.
 */
describe('docs/configuration.md', () => {
  const doc = readFileSync(path.join(__dirname, '..', '..', 'docs', 'configuration.md'), 'utf8');
  const rows = doc.split('\n').filter((line) => line.startsWith('| `'));
  const documented = new Set(
    rows.flatMap((row) =>
      [...(row.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]),
    ),
  );
  const named = (name: string) => rows.some((row) => row.includes(`\`${name}\``));
  const variables = Object.keys(envSchema.shape);

  it('reads the table (the check would otherwise pass on an empty page)', () => {
    expect(rows.length).toBeGreaterThan(20);
    expect(documented.has('PORT')).toBe(true);
  });

  it('has a row for every variable the schema reads', () => {
    expect(variables.filter((name) => !named(name))).toEqual([]);
  });

  it('names no variable the schema does not read', () => {
    expect([...documented].filter((name) => !variables.includes(name as never))).toEqual([]);
  });
});
