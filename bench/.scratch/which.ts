// scratch: which modules does main.ts pull in (node_modules packages by size of import)
import { createRequire } from 'node:module';
await import('../../lib/cli/main.ts');
const req = createRequire(import.meta.url);
const pk = new Set(Object.keys(req.cache).map((p) => (p.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/) ?? [])[1]).filter(Boolean));
console.log([...pk].sort().join(' '));
