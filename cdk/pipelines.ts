/**
 * The pipelines a deployment ships: every file of the pipelines directory, validated exactly as
 * `pgferry validate` does, plus what only matters on AWS (connections the Lambdas can resolve).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadPipelineDir, loadPipelineFile, type ConnectionConfig, type PipelineConfig } from '../lib/config/index.ts';
import { ConfigError, type ConfigProblem } from '../lib/errors.ts';

/** Connections of a pipeline with their key in the file. */
export function connectionsOf(config: PipelineConfig): { key: 'source' | 'sink' | 'state'; connection: ConnectionConfig }[] {
  return [
    { key: 'source', connection: config.source },
    { key: 'sink', connection: config.sink },
    { key: 'state', connection: config.state },
  ];
}

/** Why a validated pipeline cannot run on AWS, one problem per reason; empty when it can. */
export function awsProblems(config: PipelineConfig, file: string): ConfigProblem[] {
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

/** Loads and checks every pipeline file of `dir`; one ConfigError with every problem of every file. */
export async function loadDeployablePipelines(dir: string): Promise<PipelineConfig[]> {
  const configs = await loadPipelineDir(dir);
  if (configs.length === 0) {
    throw new ConfigError([{ file: dir, path: '', message: 'no pipeline files (*.yaml, *.yml) to deploy; add one, or point -c pipelinesDir=<dir> at yours' }]);
  }
  const files = await filesByName(dir);
  const problems = configs.flatMap((config) => awsProblems(config, files.get(config.name) ?? join(dir, `${config.name}.yaml`)));
  if (problems.length > 0) throw new ConfigError(problems);
  return configs;
}

/** The file each pipeline came from, so that AWS-only problems name it like validation problems do. */
async function filesByName(dir: string): Promise<Map<string, string>> {
  const names = (await readdir(dir)).filter((name) => /\.ya?ml$/i.test(name) && !name.startsWith('.')).sort();
  const files = new Map<string, string>();
  for (const name of names) {
    const file = join(dir, name);
    files.set((await loadPipelineFile(file)).name, file);
  }
  return files;
}
