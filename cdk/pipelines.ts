/**
 * The pipelines a deployment ships: every file of the pipelines directory, validated exactly as
 * `pgferry validate` does, plus what only matters on AWS (connections the Lambdas can resolve).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadPipelineFiles, loadPipelineSource, type ConnectionConfig, type PipelineConfig, type TablesFile } from '../lib/config/index.ts';
import { ConfigError, type ConfigProblem } from '../lib/errors.ts';

/** What holds connections: a pipeline, or a file that lists tables. */
type Connected = { readonly source: ConnectionConfig; readonly sink: ConnectionConfig; readonly state: ConnectionConfig };

/** Connections of a pipeline (or a file of tables) with their key in the file. */
export function connectionsOf(config: Connected): { key: 'source' | 'sink' | 'state'; connection: ConnectionConfig }[] {
  return [
    { key: 'source', connection: config.source },
    { key: 'sink', connection: config.sink },
    { key: 'state', connection: config.state },
  ];
}

/** Why a validated pipeline cannot run on AWS, one problem per reason; empty when it can. */
export function awsProblems(config: Connected, file: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const { key, connection } of connectionsOf(config)) {
    // The id is never quoted: for `url` it is a postgres URL that may hold a password.
    if (connection.connection_type === 'url') {
      problems.push({
        file,
        path: `${key}.connection_type`,
        message:
          'url connections are for local runs only (the URL, password included, would be deployed in plain text); store the connection in Secrets Manager in the RDS format and use connection_type: secretsmanager',
      });
    } else if (connection.connection_type === 'env') {
      problems.push({
        file,
        path: `${key}.connection_type`,
        message:
          'env connections read PGFERRY_CONN_* variables, which the deployed Lambdas do not have (and passwords do not belong in Lambda environment variables); use connection_type: secretsmanager',
      });
    }
    if (connection.connection_params.sslrootcert !== undefined) {
      problems.push({
        file,
        path: `${key}.connection_params.sslrootcert`,
        message: 'a local file the Lambdas do not have; set caBundle in pgferry.settings.json instead, which ships the bundle in the Lambda asset',
      });
    }
  }
  return problems;
}

/** What a deployment ships: its single-table pipelines and its files that list tables. */
export interface Deployable {
  readonly pipelines: PipelineConfig[];
  readonly files: TablesFile[];
}

/** Loads and checks every pipeline file of `dir`; one ConfigError with every problem of every file. */
export async function loadDeployablePipelines(dir: string): Promise<Deployable> {
  const loaded = await loadPipelineFiles(dir);
  const configs = loaded.flatMap((f) => (f.kind === 'single' ? [f.config] : []));
  const tables = loaded.flatMap((f) => (f.kind === 'tables' ? [f] : []));
  if (loaded.length === 0) {
    throw new ConfigError([{ file: dir, path: '', message: 'no pipeline files (*.yaml, *.yml) to deploy; add one, or point -c pipelinesDir=<dir> at yours' }]);
  }
  const files = await filesByName(dir);
  const problems = [
    ...configs.flatMap((config) => awsProblems(config, files.get(config.name) ?? join(dir, `${config.name}.yaml`))),
    ...tables.flatMap((file) => awsProblems(file, file.file)),
  ];
  if (problems.length > 0) throw new ConfigError(problems);
  return { pipelines: configs, files: tables.map(({ kind: _kind, ...file }) => file) };
}

/** The file each pipeline came from, so that AWS-only problems name it like validation problems do. */
async function filesByName(dir: string): Promise<Map<string, string>> {
  const names = (await readdir(dir)).filter((name) => /\.ya?ml$/i.test(name) && !name.startsWith('.')).sort();
  const files = new Map<string, string>();
  for (const name of names) {
    const file = join(dir, name);
    const source = await loadPipelineSource(file);
    files.set(source.kind === 'single' ? source.config.name : source.name, file);
  }
  return files;
}
