/** The dependencies a deployed task function gets: the bundled pipelines, Secrets Manager connections, Powertools logging. */
import { openConnection } from '../connections/index.ts';
import type { TaskLogger } from '../log.ts';
import type { TaskDeps } from '../workflow/types.ts';
import { bundledLookups } from './bundled-pipelines.ts';

/** TaskDeps of a Lambda container: `pipeline` from the bundled file (only the served names), `connect` = openConnection. */
export function lambdaDeps(log: TaskLogger, env: NodeJS.ProcessEnv = process.env): TaskDeps {
  const lookups = bundledLookups(env);
  return {
    pipeline: lookups.pipeline,
    file: lookups.file,
    // Secrets are cached per container by lib/connections and re-read once after a rotation.
    connect: (ref, options) => openConnection(ref, options.readOnly === undefined ? {} : { readOnly: options.readOnly }),
    log,
  };
}
