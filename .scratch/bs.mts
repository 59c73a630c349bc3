import { build } from 'esbuild';
import { BUNDLE_OPTIONS, LAMBDA_ENTRIES, PROJECT_ROOT } from '/work/main/cdk/bundling.ts';
for (const [k, e] of Object.entries(LAMBDA_ENTRIES)) {
  for (const ext of [[...BUNDLE_OPTIONS.external], [...BUNDLE_OPTIONS.external, '@aws-sdk/*']]) {
    const r = await build({ ...BUNDLE_OPTIONS, external: ext, entryPoints: [PROJECT_ROOT + e], outfile: `/tmp/bs/${k}-${ext.length}.mjs`, metafile: true, absWorkingDir: PROJECT_ROOT, logLevel: 'error' });
    const out = Object.entries(r.metafile.outputs).filter(([f]) => f.endsWith('.mjs'))[0];
    console.log(k, ext.join(','), out[1].bytes);
    if (k === 'plan' && ext.length === 1) {
      const by = {};
      for (const [f, i] of Object.entries(out[1].inputs)) { const m = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(f); const key = m ? m[1] : 'local'; by[key] = (by[key] ?? 0) + i.bytesInOutput; }
      console.log(Object.entries(by).sort((a, b) => b[1] - a[1]).slice(0, 20));
    }
  }
}
