// The webhook thread is a V8 isolate of its own: every package its modules import is loaded again
// there, and stays in its heap. Express alone cost the thread 4–5 MB of RSS at start-up, for a
// router the thread never uses. This walks the thread's imports from the source and names any
// package beyond the ones it needs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ALLOWED = new Set(['pino']);
// Value imports only (`import type` and `export type` are erased by the compiler), and import().
const IMPORT = /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** Every module reached from `entry` (a .ts file), and the packages each one imports. */
function importGraph(entry: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const visit = (file: string) => {
    if (graph.has(file)) return;
    const packages: string[] = [];
    graph.set(file, packages);
    for (const [, fromStatement, fromCall] of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = (fromStatement ?? fromCall)!;
      if (spec.startsWith('.')) visit(join(dirname(file), spec.replace(/\.js$/, '.ts')));
      else if (!spec.startsWith('node:')) packages.push(spec);
    }
  };
  visit(entry);
  return graph;
}

test('the webhook thread loads no package but pino (no express, oidc-provider or ioredis in its isolate)', () => {
  const graph = importGraph(join(ROOT, 'src/kubernetes/webhook-worker.ts'));
  assert.ok(graph.size > 3, 'the walk found the thread modules');
  const extra = [...graph].flatMap(([file, packages]) => packages.filter((p) => !ALLOWED.has(p)).map((p) => `${p} (from ${relative(ROOT, file)})`));
  assert.deepEqual(extra, []);
});
