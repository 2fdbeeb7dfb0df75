/**
 * What the panel knows of one notebook: its last check, its run, its deploy, its status line.
 * One model per notebook, so that nothing of one notebook is ever shown over another: the
 * panel renders the current notebook's model and nothing else, and an answer that arrives
 * after the user moved on lands in the model of the notebook it was asked for.
 *
 * Plain TypeScript (Lumino signals only), so the rules are unit-tested without a browser.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { Diagnostic } from './api';
import { RunView } from './runState';

export interface Input {
  name: string;
  kind: string;
  producer: string | null;
}

export interface Step {
  name: string;
  cells: number[];
  dependencies: { step: string; reason: string }[];
  inputs: Input[];
  outputs: string[];
  metrics?: string[];
  notebook?: string | null;
}

export interface Parameter {
  name: string;
  type: string;
  default: unknown;
}

export interface CheckResult {
  ok: boolean;
  pipeline: string;
  steps: Step[];
  parameters: Parameter[];
  metrics: { name: string; step: string | null }[];
  diagnostics: Diagnostic[];
  notebooks?: { name: string; path: string; cell: number | null; notebook?: string | null }[];
}

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

export type RequestKind = 'check' | 'graph' | 'run' | 'deploy' | 'experiments';

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
  experiments: string[] = [];
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

  update(change: Partial<Pick<NotebookModel, 'check' | 'lastGood' | 'graphSvg' | 'status' | 'run' | 'runId' | 'deploy' | 'experiments'>>): void {
    Object.assign(this, change);
    this.changedSignal.emit();
  }

  /** The cells (as the notebook numbers them) that an error of the last check points at. */
  errorCells(): Map<number, string> {
    const found = new Map<number, string>();
    for (const item of this.check?.diagnostics ?? []) {
      const outside = (item as Diagnostic & { notebook?: string | null }).notebook;
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
