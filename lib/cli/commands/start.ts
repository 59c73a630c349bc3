/**
 * `pgferry start <pipeline> [--wait]`: starts the deployed state machine of a pipeline with the AWS SDK
 * Step Functions client and, with --wait, follows the execution to its end.
 */
import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  GetExecutionHistoryCommand,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { PIPELINE_NAME_PATTERN } from '../../config/index.ts';
import { redact } from '../../connections/index.ts';
import { ConfigError } from '../../errors.ts';
import type { RunSummary } from '../../state/types.ts';
import { parseStepError } from '../../workflow/tasks/record-failure.ts';
import { ExitCode, summaryExitCode, summaryLines, type Io } from '../output.ts';

/** Options of the start command. */
export interface StartCommandOptions {
  /** Follow the execution to its end and exit with its outcome. @default false */
  readonly wait?: boolean;
  /** Start with `{"full_refresh": true}`. @default false */
  readonly fullRefresh?: boolean;
  /** Print the execution's output (the run summary) as the last line of stdout. @default false */
  readonly json?: boolean;
  /** Use this state machine instead of looking it up by name. */
  readonly stateMachineArn?: string;
  /** AWS region. @default the SDK's (AWS_REGION, the profile) */
  readonly region?: string;
  /** The deployment's namePrefix: state machines are named `<prefix>-<pipeline>`. @default 'pgferry' */
  readonly namePrefix?: string;
  /** Seconds between two looks at a running execution. @default 5 */
  readonly pollSeconds?: number;
  /** Only these tables of a file that lists tables (`{"tables": [...]}`). @default every table */
  readonly table?: readonly string[];
}

/** What the command talks to; tests pass their own. */
export interface StartDeps {
  /** @default a new SFNClient in the given region */
  readonly sfn?: SFNClient;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

const STATE_MACHINE_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$/;
const FINAL = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);

/** Starts a run of the deployed pipeline; with `wait`, its exit code is the run's (0, 1, or 3 when another run held the lease). */
export async function startCommand(pipeline: string, options: StartCommandOptions, io: Io, deps: StartDeps = {}): Promise<number> {
  const prefix = options.namePrefix ?? 'pgferry';
  if (options.stateMachineArn === undefined && !PIPELINE_NAME_PATTERN.test(pipeline)) {
    throw new ConfigError(
      `pipeline ${JSON.stringify(pipeline)} is not a pipeline name (${PIPELINE_NAME_PATTERN.source}); give the name from the pipeline file`,
    );
  }
  if (options.stateMachineArn !== undefined && !STATE_MACHINE_ARN.test(options.stateMachineArn)) {
    throw new ConfigError(
      `--state-machine-arn ${JSON.stringify(options.stateMachineArn)} is not a state machine ARN (arn:aws:states:<region>:<account>:stateMachine:<name>)`,
    );
  }
  const pollMs = Math.max(0, (options.pollSeconds ?? 5) * 1000);
  const sfn = deps.sfn ?? new SFNClient(options.region ? { region: options.region } : {});
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  const name = `${prefix}-${pipeline}`;
  const stateMachineArn = options.stateMachineArn ?? (await findStateMachine(sfn, name));
  if (stateMachineArn === undefined) {
    const region = await sfn.config.region().catch(() => 'the default region');
    throw new ConfigError(`no state machine named ${name} in ${region}; deploy the pipeline (npx cdk deploy), check --region, or give --state-machine-arn`);
  }
  const tables = options.table ?? [];
  const input = { ...(options.fullRefresh ? { full_refresh: true } : {}), ...(tables.length > 0 ? { tables: [...tables] } : {}) };
  const started = await sfn.send(new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input) }));
  const executionArn = started.executionArn as string;
  io.err(`started ${executionArn}${options.fullRefresh ? ' (full refresh)' : ''}`);
  if (!options.wait) {
    io.out(executionArn);
    return ExitCode.ok;
  }

  const since = Date.now();
  let lastLine = '';
  let mapRunArn: string | undefined;
  for (;;) {
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (FINAL.has(execution.status ?? '')) return finish(execution, options, io);
    mapRunArn ??= await findMapRun(sfn, executionArn);
    const line = `${execution.status ?? 'RUNNING'} ${await progress(sfn, executionArn, mapRunArn)} (${Math.round((Date.now() - since) / 1000)} s)`;
    // Only changes are printed (the seconds alone do not count as a change).
    if (line.replace(/\(\d+ s\)$/, '') !== lastLine.replace(/\(\d+ s\)$/, '')) io.err(line);
    lastLine = line;
    await sleep(pollMs);
  }
}

/** The ARN of the state machine with this name, paging through ListStateMachines. */
async function findStateMachine(sfn: SFNClient, name: string): Promise<string | undefined> {
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new ListStateMachinesCommand({ ...(nextToken ? { nextToken } : {}), maxResults: 1000 }));
    const found = page?.stateMachines?.find((machine) => machine.name === name);
    if (found?.stateMachineArn) return found.stateMachineArn;
    nextToken = page?.nextToken;
  } while (nextToken);
  return undefined;
}

/** Newest events first: the Distributed Map's run, once the chunks are being extracted. */
async function findMapRun(sfn: SFNClient, executionArn: string): Promise<string | undefined> {
  const history = await recentEvents(sfn, executionArn);
  return history.find((e) => e.mapRunStartedEventDetails?.mapRunArn)?.mapRunStartedEventDetails?.mapRunArn;
}

async function recentEvents(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const out = await sfn.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 100 })).catch(() => undefined);
  return out?.events ?? [];
}

/** `in Plan`, or `ExtractChunks: 3/10 chunks` while the map runs. */
async function progress(sfn: SFNClient, executionArn: string, mapRunArn: string | undefined): Promise<string> {
  const state = (await recentEvents(sfn, executionArn)).find((e) => e.stateEnteredEventDetails?.name)?.stateEnteredEventDetails?.name;
  if (state === 'ExtractChunks' && mapRunArn) {
    const run = await sfn.send(new DescribeMapRunCommand({ mapRunArn })).catch(() => undefined);
    const counts = run?.itemCounts;
    if (counts) return `ExtractChunks: ${counts.succeeded ?? 0}/${counts.total ?? 0} chunks${counts.failed ? `, ${counts.failed} failed` : ''}`;
  }
  return state ? `in ${state}` : '';
}

/** Prints the outcome and returns the exit code: the run summary's for a success, 1 for a failed, timed-out or aborted execution. */
function finish(execution: DescribeExecutionCommandOutput, options: StartCommandOptions, io: Io): number {
  const status = execution.status as string;
  if (status === 'SUCCEEDED') {
    const output = parseOutput(execution.output);
    if (output?.status === 'skipped') {
      const cause = output.error
        ? parseStepError({ Error: output.error.Error ?? output.error.name, Cause: output.error.Cause ?? output.error.message })
        : undefined;
      io.err(`pipeline ${output.pipeline ?? ''} run ${output.runId ?? ''}: skipped${cause ? `: ${cause.message}` : ''}`);
    } else if (output && typeof output.rowsExtracted === 'number') {
      for (const line of summaryLines(output as unknown as RunSummary)) io.err(line);
    } else {
      io.err(`execution succeeded: ${redact(execution.output ?? '')}`);
    }
    if (options.json) io.out(redact(execution.output ?? '{}'));
    return output?.status ? summaryExitCode(output as unknown as RunSummary) : ExitCode.ok;
  }
  const error = parseStepError({ Error: execution.error ?? status, Cause: execution.cause ?? '' });
  const what = { FAILED: 'failed', TIMED_OUT: 'timed out', ABORTED: 'was aborted' }[status] ?? status;
  io.err(`execution ${what}: ${error.name}${error.message ? `: ${error.message}` : ''}`);
  io.err(`  ${execution.executionArn ?? ''}`);
  if (options.json) io.out(JSON.stringify({ status: status.toLowerCase(), executionArn: execution.executionArn, error }));
  return ExitCode.failed;
}

type Output = Record<string, unknown> & {
  status?: string;
  pipeline?: string;
  runId?: string;
  error?: { Error?: string; Cause?: string; name?: string; message?: string };
};

function parseOutput(text: string | undefined): Output | undefined {
  if (text === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' ? (parsed as Output) : undefined;
  } catch {
    return undefined;
  }
}
