import { parsePipeline, type PipelineConfig } from '../../lib/config/index.ts';

/** Builds a validated pipeline config between two database URLs; `extra` deep-merges over the defaults. */
export function pipelineConfig(
  sourceUrl: string,
  targetUrl: string,
  extra: {
    name?: string;
    source?: Record<string, unknown>;
    options?: Record<string, unknown>;
    sink?: Record<string, unknown>;
    strategy?: Record<string, unknown>;
  } = {},
): PipelineConfig {
  const doc = {
    name: extra.name ?? 'test_pipeline',
    source: {
      type: 'postgres',
      connection_type: 'url',
      connection_id: sourceUrl,
      table: { schema: 'public', name: 'orders' },
      ...extra.source,
      options: { ...extra.options },
    },
    sink: {
      type: 'postgres',
      connection_type: 'url',
      connection_id: targetUrl,
      table: { schema: 'public', name: 'orders' },
      ...extra.sink,
      strategy: { mode: 'full_refresh', ...extra.strategy },
    },
  };
  return parsePipeline(JSON.stringify(doc), 'test.yaml');
}
