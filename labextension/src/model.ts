/**
 * What the panel knows of one notebook: its last check, its run, its deploy, its status line.
 * One model per notebook, so that nothing of one notebook is ever shown over another: the
 * panel renders the current notebook's model and nothing else, and an answer that arrives
 * after the user moved on lands in the model of the notebook it was asked for.
 *
 * Plain TypeScript (Lumino signals only), so the rules are unit-tested without a browser.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { CheckAnswer, InputData, KfpRunStatus, ParameterData, StepData, Trial, TuneStatus } from './answers';
import { RunView } from './runState';

/** The answers' shapes are declared once, on the server (kalec/serve/answers.py); these are
 * the names the panel reads them by. */
export type Input = InputData;
export type Step = StepData;
export type Parameter = ParameterData;
export type CheckResult = CheckAnswer;
export type TuneTrial = Trial;
/** What the panel shows of a search: the server's status, or what the panel knows before one
 * arrives (started, or refused with the reason). */
export type TuneState = Pick<TuneStatus, 'id' | 'state' | 'trials' | 'best'> & Partial<Pick<TuneStatus, 'errors'>>;

export type StatusKind = 'info' | 'error' | 'busy' | 'empty';

export interface Status {
  text: string;
  kind: StatusKind;
}

export interface DeployState {
  state: 'idle' | 'busy' | 'done' | 'error';
  text: string;
  runUrl: string | null;
}

export type RequestKind = 'check' | 'graph' | 'run' | 'deploy' | 'experiments' | 'tune' | 'cluster-run';

export class NotebookModel {
  /** The last check's answer (null before the first, or while it failed to arrive). */
  check: CheckResult | null = null;
  /** The last check without errors: what the graph shows while the notebook has errors. */
  lastGood: CheckResult | null = null;
  graphSvg: string | null = null;
  status: Status = { text: 'not checked yet: press Check', kind: 'empty' };
  run: RunView | null = null;
  runId: string | null = null;
  deploy: DeployState = { state: 'idle', text: '', runUrl: null };
  /** The run the last deploy started on Kubeflow Pipelines, as last asked. */
  clusterRun: KfpRunStatus | null = null;
  /** Whose steps' states the graph shows: the last run started, here or on the cluster. */
  graphRun: 'local' | 'cluster' = 'local';
  experiments: string[] = [];
  tune: TuneState | null = null;
  private readonly tickets = new Map<RequestKind, number>();
  private readonly changedSignal = new Signal<NotebookModel, void>(this);

  constructor(readonly path: string) {}

  get changed(): ISignal<NotebookModel, void> {
    return this.changedSignal;
  }

  /** Start a request of ``kind``: its ticket, which ``isCurrent`` honours until the next one. */
  begin(kind: RequestKind): number {
    const ticket = (this.tickets.get(kind) ?? 0) + 1;
    this.tickets.set(kind, ticket);
    return ticket;
  }

  /** Whether the answer to request ``ticket`` is still wanted: no later one of its kind. */
  isCurrent(kind: RequestKind, ticket: number): boolean {
    return this.tickets.get(kind) === ticket;
  }

  update(
    change: Partial<
      Pick<
        NotebookModel,
        'check' | 'lastGood' | 'graphSvg' | 'status' | 'run' | 'runId' | 'deploy' | 'experiments' | 'tune' | 'clusterRun' | 'graphRun'
      >
    >
  ): void {
    Object.assign(this, change);
    this.changedSignal.emit();
  }

  /** What a check may say on the status line: nothing while a run goes on (the line is the
   * run's, and a check on save must not cover it); the check's own words otherwise. */
  checkStatus(status: Status): { status?: Status } {
    return this.run !== null && !this.run.ended ? {} : { status };
  }

  /** The cells (as the notebook numbers them) that an error of the last check points at. */
  errorCells(): Map<number, string> {
    const found = new Map<number, string>();
    for (const item of this.check?.diagnostics ?? []) {
      const outside = item.notebook;
      if (item.severity === 'error' && item.cell && !outside && !found.has(item.cell)) {
        found.set(item.cell, `${item.code}: ${item.message}`);
      }
    }
    return found;
  }
}

/**
 * Colours of categories that stay apart in light and dark themes; a step gets the colour of its
 * place in the notebook, so steps next to each other never share one.
 */
export const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#e15759',
  '#76b7b2',
  '#b07aa1',
  '#edc948',
  '#9c755f',
  '#ff9da7',
  '#86bcb6'
];

export function palette(steps: string[]): Map<string, string> {
  const colours = new Map<string, string>();
  for (const name of steps) {
    if (!colours.has(name)) {
      colours.set(name, PALETTE[colours.size % PALETTE.length]);
    }
  }
  return colours;
}

/**
 * Calls ``tick`` until it says it is done, ``delay`` ms apart; a failed call is retried with a
 * doubling delay (up to ``maxDelay``) instead of ending the polling, and ``onFailure`` is told
 * how many failed in a row and when the next try is. ``stop()`` ends it.
 */
export class Poller {
  private stopped = false;
  private failures = 0;

  constructor(
    private readonly tick: () => Promise<boolean>,
    private readonly onFailure: (failures: number, retryMs: number, error: unknown) => void,
    private readonly delay = 700,
    private readonly maxDelay = 8000,
    private readonly sleep: (ms: number) => Promise<void> = ms => new Promise(resolve => setTimeout(resolve, ms))
  ) {}

  stop(): void {
    this.stopped = true;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** The next wait: the normal delay, or after failures twice the last, up to the maximum. */
  nextDelay(): number {
    return this.failures ? Math.min(this.delay * 2 ** this.failures, this.maxDelay) : this.delay;
  }

  async start(): Promise<void> {
    while (!this.stopped) {
      let done = false;
      try {
        done = await this.tick();
        this.failures = 0;
      } catch (error) {
        this.failures += 1;
        this.onFailure(this.failures, this.nextDelay(), error);
      }
      if (done || this.stopped) {
        return;
      }
      await this.sleep(this.nextDelay());
    }
  }
}

/** A deploy error as a person reads it: the server's words, without a library's internals. */
export function deployError(host: string, message: string): string {
  const lower = message.toLowerCase();
  if (/refused|econnrefused/.test(lower)) {
    return `cannot reach Kubeflow Pipelines at ${host}: the connection was refused (is the server running, on that port?)`;
  }
  if (/name or service not known|nodename nor servname|getaddrinfo|name resolution/.test(lower)) {
    return `cannot reach Kubeflow Pipelines at ${host}: no such host`;
  }
  if (/timed out|timeout/.test(lower)) {
    return `cannot reach Kubeflow Pipelines at ${host}: it did not answer in time`;
  }
  return message;
}

/** The KFP UI's page of a run, from the API's address. */
export function runLink(host: string, runId: string): string {
  return `${host.replace(/\/+$/, '')}/#/runs/details/${encodeURIComponent(runId)}`;
}

/**
 * A run parameter's value from its form field: the parameter's own type (numbers, booleans,
 * lists and dicts as JSON); an error message when the text is not one.
 */
export function parameterValue(type: string, text: string): { value?: unknown; error?: string } {
  const trimmed = text.trim();
  if (type === 'int') {
    return /^[+-]?\d+$/.test(trimmed) ? { value: Number(trimmed) } : { error: 'a whole number' };
  }
  if (type === 'float') {
    const value = Number(trimmed);
    return trimmed && Number.isFinite(value) ? { value } : { error: 'a number' };
  }
  if (type === 'bool') {
    return { value: trimmed === 'true' };
  }
  if (type === 'list' || type === 'dict') {
    try {
      const value = JSON.parse(trimmed);
      const ok = type === 'list' ? Array.isArray(value) : value !== null && typeof value === 'object' && !Array.isArray(value);
      return ok ? { value } : { error: type === 'list' ? 'a JSON list' : 'a JSON object' };
    } catch {
      return { error: type === 'list' ? 'a JSON list' : 'a JSON object' };
    }
  }
  return { value: text };
}

/**
 * A search space to start from when the notebook has none: every parameter (numbers over a
 * range around their default, others their default), the first metric maximised, 10 random
 * trials. In Katib's Experiment fields, as the notebook's metadata keeps them.
 */
export function defaultSpace(check: CheckResult): Record<string, unknown> {
  const parameters = check.parameters.map(p => {
    const value = typeof p.default === 'number' ? p.default : 0;
    if (p.type === 'int') {
      return { name: p.name, parameterType: 'int', feasibleSpace: { min: String(Math.max(value - 5, 0)), max: String(value + 5) } };
    }
    if (p.type === 'float') {
      const low = value > 0 ? value / 10 : 0;
      const high = value > 0 ? value * 10 : 1;
      return { name: p.name, parameterType: 'double', feasibleSpace: { min: String(low), max: String(high) } };
    }
    return { name: p.name, parameterType: 'categorical', feasibleSpace: { list: [String(p.default)] } };
  });
  return {
    parameters,
    objective: { type: 'maximize', objectiveMetricName: check.metrics[0]?.name ?? '' },
    algorithm: { algorithmName: 'random' },
    maxTrialCount: 10
  };
}

/**
 * The parameters cell's text with ``values`` written in: each ``NAME = ...`` line of a name
 * given gets the value as Python writes it; other lines are kept.
 */
export function withValues(source: string, values: Record<string, unknown>): string {
  const python = (value: unknown): string => {
    if (typeof value === 'boolean') {
      return value ? 'True' : 'False';
    }
    if (typeof value === 'string') {
      return JSON.stringify(value);
    }
    return JSON.stringify(value).replace(/\btrue\b/g, 'True').replace(/\bfalse\b/g, 'False').replace(/\bnull\b/g, 'None');
  };
  return source
    .split('\n')
    .map(line => {
      const found = /^(\s*)([A-Za-z_][A-Za-z0-9_]*)(\s*(?::[^=]*)?=\s*)(.*?)(\s*#.*)?$/.exec(line);
      if (!found || !(found[2] in values)) {
        return line;
      }
      return `${found[1]}${found[2]}${found[3]}${python(values[found[2]])}${found[5] ?? ''}`;
    })
    .join('\n');
}
