import YAML from 'yaml';
import { parsePipeline } from '../../lib/config/index.ts';
import { ConfigError, formatProblem } from '../../lib/errors.ts';

/** A minimal valid pipeline document. */
export const BASE = {
  name: 'orders',
  source: { type: 'postgres', connection_id: 'orders_oltp', table: { schema: 'public', name: 'orders' } },
  sink: { type: 'postgres', connection_id: 'dwh', table: { schema: 'landing', name: 'orders' }, strategy: { mode: 'full_refresh' } },
};

type Doc = Record<string, unknown>;

/** The base pipeline as YAML, with `changes` applied by dotted path (undefined deletes the key). */
export function pipelineYaml(changes: Record<string, unknown> = {}): string {
  const doc: Doc = structuredClone(BASE);
  for (const [path, value] of Object.entries(changes)) {
    const keys = path.split('.');
    let node = doc;
    for (const key of keys.slice(0, -1)) {
      if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
      node = node[key] as Doc;
    }
    const last = keys.at(-1) as string;
    if (value === undefined) delete node[last];
    else node[last] = value;
  }
  return YAML.stringify(doc);
}

/** Every problem of a text as `file: path: message`, or [] when it is valid. */
export function problemsOf(text: string): string[] {
  try {
    parsePipeline(text, 'orders.yaml');
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map(formatProblem);
    throw error;
  }
}
