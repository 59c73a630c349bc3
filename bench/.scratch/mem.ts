// scratch: RSS and time of start-up pieces
import { performance } from 'node:perf_hooks';
const mb = () => (process.memoryUsage().rss / 2 ** 20).toFixed(0);
const step = async (name: string, f: () => Promise<unknown>) => { const t = performance.now(); await f(); console.log(`${name.padEnd(40)} +${(performance.now() - t).toFixed(0).padStart(5)} ms  rss ${mb()} MB  heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MB`); };
console.log(`start (node+tsx loaded)  at ${performance.now().toFixed(0)} ms rss ${mb()} MB`);
const which = process.argv[2] ?? 'all';
if (which === 'all') {
  await step('pg + pg-copy-streams', () => Promise.all([import('pg'), import('pg-copy-streams')]));
  await step('zod + yaml', () => Promise.all([import('zod'), import('yaml')]));
  await step('aws-local-stepfunctions', () => import('aws-local-stepfunctions'));
  await step('commander', () => import('commander'));
  await step('lib/local/runner.ts (run deps)', () => import('../../lib/local/runner.ts'));
  await step('lib/cli/main.ts (every command)', () => import('../../lib/cli/main.ts'));
  const { parsePipeline } = await import('../../lib/config/index.ts');
  const { buildDefinition } = await import('../../lib/workflow/definition.ts');
  const { LOCAL_RESOURCES } = await import('../../lib/local/runner.ts');
  const { StateMachine } = await import('aws-local-stepfunctions');
  const cfg = parsePipeline(JSON.stringify({ name: 'x', source: { type: 'postgres', connection_type: 'url', connection_id: 'postgres://a@b/c', table: { schema: 'public', name: 'o' } }, sink: { type: 'postgres', connection_type: 'url', connection_id: 'postgres://a@b/d', table: { schema: 'public', name: 'o' }, strategy: { mode: 'full_refresh' } } }), 'x.yaml');
  const def = buildDefinition(cfg, LOCAL_RESOURCES);
  await step('new StateMachine (validated, as runLocal)', async () => new StateMachine(def as never, { validationOptions: { checkPaths: false } }));
  await step('new StateMachine again (validated)', async () => new StateMachine(def as never, { validationOptions: { checkPaths: false } }));
  await step('new StateMachine (noValidate)', async () => new StateMachine(def as never, { validationOptions: { noValidate: true } }));
  (globalThis as { gc?: () => void }).gc?.();
  console.log(`after gc rss ${mb()} MB`);
} else {
  await step('lib/local/runner.ts + config + run command only', async () => { await import('../../lib/local/runner.ts'); await import('../../lib/cli/commands/run.ts'); });
}
