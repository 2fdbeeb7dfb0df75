/**
 * The state of a local run as the panel shows it, from the server's status answers.
 *
 * Before the run's own status file exists the server knows no steps yet: the panel then shows
 * the steps of the last check, all waiting. The runner's words (``StepStatus`` in
 * kalec/local/status.py: ran, cached, skipped ...) become the panel's (done, cached, skipped ...).
 * A step's note says why it ran although remembered, why it was not kept, or why it was skipped.
 */

export type StepState = 'waiting' | 'running' | 'done' | 'cached' | 'failed' | 'skipped' | 'stopped';
export type RunState = 'starting' | 'running' | 'ok' | 'failed' | 'cancelled' | 'refused';

export interface StepView {
  name: string;
  state: StepState;
  seconds: number | null;
  output: string[];
  error: string | null;
  cell: number | null;
  note: string | null;
  source: string | null;
}

export interface RunView {
  state: RunState;
  ended: boolean;
  steps: StepView[];
  summary: string | null;
  metrics: Record<string, unknown>;
  message: string | null;
}

const STEP_WORDS: Record<string, StepState> = {
  waiting: 'waiting',
  running: 'running',
  ran: 'done',
  ok: 'done',
  cached: 'cached',
  failed: 'failed',
  skipped: 'skipped',
  'not run': 'skipped',
  stopped: 'stopped'
};

const RUN_WORDS: Record<string, RunState> = {
  running: 'running',
  ok: 'ok',
  failed: 'failed',
  cancelled: 'cancelled',
  refused: 'refused'
};

interface StatusStep {
  name?: unknown;
  status?: unknown;
  seconds?: unknown;
  output?: unknown;
  error?: unknown;
  cell?: unknown;
  note?: unknown;
  source?: unknown;
}

/** The view of a run: ``planned`` are the step names of the last check, in order. */
export function runView(planned: readonly string[], status: Record<string, unknown> | null): RunView {
  const reported = new Map<string, StatusStep>();
  const steps = Array.isArray(status?.steps) ? (status?.steps as StatusStep[]) : [];
  for (const step of steps) {
    if (step && typeof step.name === 'string') {
      reported.set(step.name, step);
    }
  }
  const names = [...planned, ...[...reported.keys()].filter(n => !planned.includes(n))];
  const state: RunState = status ? RUN_WORDS[String(status.state)] ?? 'failed' : 'starting';
  const ended = !['starting', 'running'].includes(state);
  const views = names.map(name => {
    const step = reported.get(name);
    let stepState: StepState = STEP_WORDS[String(step?.status ?? 'waiting')] ?? 'waiting';
    if (ended && (stepState === 'waiting' || stepState === 'running')) {
      stepState = state === 'cancelled' ? 'stopped' : 'skipped';
    }
    return {
      name,
      state: stepState,
      seconds: typeof step?.seconds === 'number' ? step.seconds : null,
      output: Array.isArray(step?.output) ? step!.output.map(String) : [],
      error: typeof step?.error === 'string' ? step.error : null,
      cell: typeof step?.cell === 'number' ? step.cell : null,
      note: typeof step?.note === 'string' ? step.note : null,
      source: typeof step?.source === 'string' ? step.source : null
    };
  });
  let message: string | null = null;
  if (state === 'refused') {
    message = String(status?.errors ?? 'the notebook was refused').trim();
  } else if (state === 'failed') {
    const failed = views.find(v => v.state === 'failed');
    message = failed
      ? `step ${failed.name} failed${failed.cell ? ` in cell ${failed.cell}` : ''}: ${failed.error ?? ''}`
      : String(status?.errors ?? 'the run failed').trim();
  }
  return {
    state,
    ended,
    steps: views,
    summary: summaryText(status?.summary),
    metrics: (status?.metrics as Record<string, unknown>) ?? {},
    message
  };
}

/** The summary table, sent as its lines (or as one text). */
function summaryText(summary: unknown): string | null {
  if (Array.isArray(summary)) {
    return summary.length ? summary.map(String).join('\n') : null;
  }
  return typeof summary === 'string' && summary ? summary : null;
}

/** Each step's state in the run, by name, for the graph's boxes (empty: no run). */
export function stepStates(view: RunView | null): Map<string, StepState> {
  return new Map((view?.steps ?? []).map(step => [step.name, step.state]));
}

/** Kubeflow Pipelines' words for a task's state, in the panel's. */
const KFP_WORDS: Record<string, StepState> = {
  PENDING: 'waiting',
  RUNNING: 'running',
  SUCCEEDED: 'done',
  CACHED: 'cached',
  FAILED: 'failed',
  SKIPPED: 'skipped',
  CANCELING: 'stopped',
  CANCELED: 'stopped'
};

/** Each step's state in a run on the cluster, by name (the step's last part in a notebook a
 * composition references, as the tasks are named), for the graph's boxes. */
export function clusterStepStates(
  run: { steps: { name: string; state: string }[] } | null,
  steps: readonly string[]
): Map<string, StepState> {
  const byTask = new Map((run?.steps ?? []).map(task => [task.name, KFP_WORDS[task.state] ?? 'waiting']));
  const states = new Map<string, StepState>();
  for (const step of steps) {
    const state = byTask.get(step) ?? byTask.get(step.split('/').pop() ?? step);
    if (state) {
      states.set(step, state);
    }
  }
  return states;
}

/** How many steps have ended, for the progress line ("3 of 5 steps"). */
export function progress(view: RunView): { finished: number; total: number } {
  const finished = view.steps.filter(s => ['done', 'cached', 'failed', 'skipped', 'stopped'].includes(s.state)).length;
  return { finished, total: view.steps.length };
}

/** The steps' states the graph shows: those of the last run started, here or on the cluster. */
export function graphStates(model: {
  graphRun: 'local' | 'cluster';
  run: RunView | null;
  clusterRun: { steps: { name: string; state: string }[] } | null;
  check: { steps: { name: string }[] } | null;
}): Map<string, StepState> {
  if (model.graphRun === 'cluster') {
    return clusterStepStates(model.clusterRun, (model.check?.steps ?? []).map(s => s.name));
  }
  return stepStates(model.run);
}
