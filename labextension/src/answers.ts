// Made by labextension/answers_ts.py from the answers kalec/serve/answers.py declares; do not
// edit: change the declaration, then run `python labextension/answers_ts.py`.

export interface VersionAnswer {
  kalec: string;
  api: number;
  python: string;
}

export interface CheckAnswer {
  notebook: string;
  pipeline: string;
  ok: boolean;
  parameters: ParameterData[];
  metrics: MetricData[];
  prelude: number[];
  search: Record<string, unknown> | null;
  notebooks: NotebookData[];
  steps: StepData[];
  diagnostics: DiagnosticData[];
}

export interface BuildAnswer {
  target: string;
  pipeline_name: string;
  file_name: string;
  text: string;
  steps: number;
  diagnostics: DiagnosticData[];
}

export interface GraphAnswer {
  format: string;
  text: string;
  steps: GraphBox[];
  edges: GraphArrow[];
}

export interface RunStarted {
  id: string;
  state: 'running';
  steps: string[];
}

export interface RunStatus {
  id: string;
  state: 'running' | 'ok' | 'failed' | 'refused' | 'cancelled';
  exit_code: number | null;
  output: string;
  errors: string;
  steps: RunStepStatus[];
  metrics: Record<string, unknown>;
  summary: string[] | null;
}

export interface Cancelling {
  id: string;
  state: 'cancelling' | 'cancelled';
}

export interface DeployAnswer {
  pipeline_id: string;
  version_id: string | null;
  new_pipeline: boolean;
  experiment_id: string | null;
  run_id: string | null;
  run_link: string | null;
  namespace: string | null;
  pipeline_name: string;
  log: string;
}

export interface ExperimentsAnswer {
  host: string;
  experiments: string[];
}

export interface KfpRunStatus {
  host: string;
  run_id: string;
  state: string;
  ended: boolean;
  link: string;
  steps: KfpStep[];
}

export interface TuneStarted {
  id: string;
  state: 'running';
  space: Record<string, unknown>;
}

export interface TuneStatus {
  id: string;
  state: 'running' | 'ok' | 'failed' | 'refused' | 'cancelled';
  exit_code: number | null;
  output: string;
  errors: string;
  objective: Record<string, unknown> | null;
  trials: Trial[];
  best: Trial | null;
}

export interface KaleAnswer {
  pipeline_name: string;
  script: string;
  file_name: string;
  diagnostics: DiagnosticData[];
  yaml: string | null;
  deployment: DeployAnswer | null;
}

export interface ErrorAnswer {
  error: ErrorData;
}

export interface ParameterData {
  cell: number | null;
  line: number | null;
  notebook?: string | null;
  name: string;
  type: string;
  default: unknown;
}

export interface MetricData {
  cell: number | null;
  line: number | null;
  notebook?: string | null;
  name: string;
  step: string | null;
}

export interface NotebookData {
  cell: number | null;
  line: number | null;
  notebook?: string | null;
  name: string;
  path: string;
}

export interface StepData {
  name: string;
  cells: number[];
  dependencies: DependencyData[];
  inputs: InputData[];
  outputs: string[];
  metrics: string[];
  notebook?: string | null;
  global_cells?: number[];
}

export interface DiagnosticData {
  code: string;
  severity: 'error' | 'warning' | 'note';
  message: string;
  cell: number | null;
  line: number | null;
  hint: string | null;
  notebook?: string | null;
}

export interface GraphBox {
  name: string;
  cells: number[];
  row: number;
}

export interface GraphArrow {
  from: string;
  to: string;
  variables: string[];
}

export interface RunStepStatus {
  name: string;
  status: 'waiting' | 'running' | 'ran' | 'cached' | 'failed' | 'skipped' | 'stopped';
  seconds: number;
  bytes: number;
  source: string | null;
  note: string | null;
  key: string | null;
  error: string | null;
  cell: number | null;
  line: number | null;
  output: string[];
}

export interface KfpStep {
  name: string;
  state: string;
  seconds: number;
}

export interface Trial {
  number: number;
  params: Record<string, unknown>;
  value: number | null;
  state: string;
  seconds: number | null;
  ran: number | null;
  reused: number | null;
  error: string | null;
}

export interface ErrorData {
  code: string;
  message: string;
  cell: number | null;
  line: number | null;
  notebook?: string;
  diagnostics?: DiagnosticData[];
}

export interface DependencyData {
  cell: number | null;
  line: number | null;
  notebook?: string | null;
  step: string;
  reason: string;
  variable: string | null;
}

export interface InputData {
  cell: number | null;
  line: number | null;
  notebook?: string | null;
  name: string;
  kind: string;
  producer: string | null;
  statement: string | null;
}
