/**
 * The kalec side panel: follows the active notebook and shows what kalec sees in it (steps,
 * inputs and where they come from, parameters, metrics, diagnostics, the DAG), the pipeline's
 * settings (stored in the notebook's metadata), and the actions: check, run locally, build,
 * deploy. Every request goes through `KalecApi`; every failure is shown in the panel.
 */

import { PathExt } from '@jupyterlab/coreutils';
import { NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { ApiError, Diagnostic, KalecApi } from './api';
import { RunView, progress, runView } from './runState';
import { stepColour } from './tags';

interface Input {
  name: string;
  kind: string;
  producer: string | null;
}

interface Step {
  name: string;
  cells: number[];
  dependencies: { step: string; reason: string }[];
  inputs: Input[];
  outputs: string[];
}

interface CheckResult {
  ok: boolean;
  pipeline: string;
  steps: Step[];
  parameters: { name: string; type: string; default: unknown }[];
  metrics: { name: string; step: string | null }[];
  diagnostics: Diagnostic[];
}

const SETTINGS = ['name', 'description', 'image', 'experiment'] as const;
const KALE_SETTINGS: Record<string, string> = {
  name: 'pipeline_name',
  description: 'pipeline_description',
  image: 'docker_image',
  experiment: 'experiment_name'
};

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    node.setAttribute(key, value);
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

export class KalecPanel extends Widget {
  private notebook: NotebookPanel | null = null;
  private checked: CheckResult | null = null;
  private runId: string | null = null;
  private graphUrl: string | null = null;
  private readonly watched = new WeakSet<NotebookPanel>();
  private readonly status = element('div', { class: 'kalec-status', role: 'status' });
  private readonly title_ = element('div', { class: 'kalec-notebook' });
  private readonly settingsForm = element('form', { class: 'kalec-settings' });
  private readonly diagnostics = element('ul', { class: 'kalec-diagnostics' });
  private readonly steps = element('div', { class: 'kalec-steps' });
  private readonly run = element('div', { class: 'kalec-run' });
  private readonly graph = element('img', { class: 'kalec-graph', alt: 'the pipeline graph' });
  private readonly cancelButton = element('button', { class: 'kalec-cancel', type: 'button' }, 'Cancel');
  private readonly target = element('select', { class: 'kalec-target' });
  private readonly deployForm = element('form', { class: 'kalec-deploy' });

  constructor(private readonly api: KalecApi) {
    super();
    this.id = 'kalec-panel';
    this.title.caption = 'kalec pipeline';
    this.title.label = 'Pipeline';
    this.addClass('kalec-panel');
    this.build();
  }

  private build(): void {
    const root = this.node;
    root.append(element('h2', {}, 'Pipeline'), this.title_, this.status);
    const actions = element('div', { class: 'kalec-actions' });
    const check = element('button', { class: 'kalec-check', type: 'button' }, 'Check');
    check.onclick = () => void this.check();
    const runButton = element('button', { class: 'kalec-run-button', type: 'button' }, 'Run locally');
    runButton.onclick = () => void this.startRun();
    this.cancelButton.onclick = () => void this.cancelRun();
    this.cancelButton.hidden = true;
    for (const target of ['kfp-py', 'yaml', 'argo']) {
      this.target.appendChild(element('option', { value: target }, target));
    }
    const buildButton = element('button', { class: 'kalec-build', type: 'button' }, 'Build');
    buildButton.onclick = () => void this.buildPipeline();
    actions.append(check, runButton, this.cancelButton, this.target, buildButton);
    root.append(actions);

    for (const key of SETTINGS) {
      const input = element('input', { name: key, placeholder: key });
      this.settingsForm.append(element('label', {}, key), input);
    }
    this.settingsForm.append(element('button', { type: 'submit' }, 'Save settings'));
    this.settingsForm.onsubmit = event => {
      event.preventDefault();
      this.saveSettings();
    };
    const settings = element('details', { class: 'kalec-settings-box' });
    settings.append(element('summary', {}, 'Settings'), this.settingsForm);

    this.deployForm.append(
      element('label', {}, 'Kubeflow Pipelines URL'),
      element('input', { name: 'host', placeholder: 'http://localhost:8080' }),
      element('label', {}, 'experiment'),
      element('input', { name: 'experiment' }),
      element('label', { class: 'kalec-inline' }, 'run now'),
      element('input', { name: 'run', type: 'checkbox' }),
      element('button', { type: 'submit' }, 'Deploy')
    );
    this.deployForm.onsubmit = event => {
      event.preventDefault();
      void this.deploy();
    };
    const deploy = element('details', { class: 'kalec-deploy-box' });
    deploy.append(element('summary', {}, 'Deploy'), this.deployForm);

    root.append(
      settings,
      deploy,
      element('h3', {}, 'Diagnostics'),
      this.diagnostics,
      element('h3', {}, 'Steps'),
      this.steps,
      element('h3', {}, 'Run'),
      this.run,
      element('h3', {}, 'Graph'),
      this.graph
    );
  }

  /** Follow ``panel``: its settings, and a fresh check. */
  setNotebook(panel: NotebookPanel | null): void {
    if (panel === this.notebook) {
      return;
    }
    this.notebook = panel;
    this.checked = null;
    this.title_.textContent = panel ? panel.context.path : 'no notebook open';
    this.loadSettings();
    this.diagnostics.replaceChildren();
    this.steps.replaceChildren();
    if (panel && !this.watched.has(panel)) {
      this.watched.add(panel); // once per notebook, however often the panel comes back to it
      panel.context.saveState.connect((_, state) => {
        if (state === 'completed' && this.notebook === panel) {
          void this.check();
        }
      });
    }
  }

  private say(text: string, kind: 'info' | 'error' | 'busy' = 'info'): void {
    this.status.textContent = text;
    this.status.dataset.kind = kind;
  }

  /** The request body naming the notebook: its current content, and its path in Jupyter. */
  private body(extra: Record<string, unknown> = {}): Record<string, unknown> | null {
    if (!this.notebook) {
      this.say('open a notebook first', 'error');
      return null;
    }
    const path = this.notebook.context.path;
    const body: Record<string, unknown> = {
      nb: this.notebook.content.model?.toJSON(),
      name: PathExt.basename(path),
      ...extra
    };
    if (this.api.inJupyter) {
      body.path = path; // its folder: local modules beside it, and where its steps run
    }
    return body;
  }

  private failed(what: string, error: unknown): void {
    const message = error instanceof ApiError ? error.message : String(error);
    this.say(`${what} failed: ${message}`, 'error');
    if (error instanceof ApiError && error.diagnostics.length) {
      this.showDiagnostics(error.diagnostics);
    }
  }

  async check(): Promise<void> {
    const body = this.body();
    if (!body) {
      return;
    }
    this.say('checking ...', 'busy');
    try {
      const result = await this.api.post<CheckResult>('check', body);
      this.checked = result;
      this.showDiagnostics(result.diagnostics);
      this.showSteps(result);
      const errors = result.diagnostics.filter(d => d.severity === 'error').length;
      this.say(
        result.ok
          ? `${result.steps.length} steps, no errors`
          : `${errors} error${errors === 1 ? '' : 's'}: see Diagnostics`,
        result.ok ? 'info' : 'error'
      );
      if (result.ok) {
        await this.refreshGraph();
      }
    } catch (error) {
      this.failed('check', error);
    }
  }

  private async refreshGraph(): Promise<void> {
    const body = this.body({ format: 'svg' });
    if (!body) {
      return;
    }
    const drawn = await this.api.post<{ text: string }>('graph', body);
    if (this.graphUrl) {
      URL.revokeObjectURL(this.graphUrl);
    }
    // an <img> shows the drawing and can run nothing in it
    this.graphUrl = URL.createObjectURL(new Blob([drawn.text], { type: 'image/svg+xml' }));
    this.graph.src = this.graphUrl;
  }

  private showDiagnostics(diagnostics: Diagnostic[]): void {
    this.diagnostics.replaceChildren();
    if (!diagnostics.length) {
      this.diagnostics.append(element('li', { class: 'kalec-none' }, 'none'));
    }
    for (const found of diagnostics) {
      const where = found.cell ? `cell ${found.cell}${found.line ? `, line ${found.line}` : ''}: ` : '';
      const item = element('li', { class: `kalec-diagnostic kalec-${found.severity}` });
      item.append(element('span', { class: 'kalec-code' }, `${found.severity} ${found.code}`), ` ${where}${found.message}`);
      if (found.hint) {
        item.append(element('div', { class: 'kalec-hint' }, found.hint));
      }
      if (found.cell) {
        item.title = 'show this cell';
        item.onclick = () => this.reveal(found.cell as number, found.line);
      }
      this.diagnostics.append(item);
    }
  }

  /** Select notebook cell ``number`` (1-based, every cell counted) and put the cursor on ``line``. */
  private reveal(number: number, line: number | null): void {
    const notebook = this.notebook?.content;
    if (!notebook || number < 1 || number > notebook.widgets.length) {
      return;
    }
    const index = number - 1;
    notebook.activeCellIndex = index;
    notebook.deselectAll();
    const cell = notebook.widgets[index];
    void notebook.scrollToItem?.(index);
    if (line && cell.editor) {
      notebook.mode = 'edit';
      cell.editor.setCursorPosition({ line: line - 1, column: 0 });
      cell.editor.focus();
    }
  }

  private showSteps(result: CheckResult): void {
    this.steps.replaceChildren();
    for (const step of result.steps) {
      const box = element('div', { class: 'kalec-step', 'data-step': step.name });
      const name = element('div', { class: 'kalec-step-name' }, step.name);
      name.style.borderLeftColor = stepColour(step.name);
      box.append(name);
      const cells = `cell${step.cells.length === 1 ? '' : 's'} ${step.cells.join(', ')}`;
      const after = step.dependencies.map(d => d.step);
      box.append(element('div', {}, after.length ? `${cells}; after ${[...new Set(after)].join(', ')}` : cells));
      const received = step.inputs.filter(i => i.kind === 'artifact' || i.kind === 'param');
      if (received.length) {
        const text = received.map(i => (i.producer ? `${i.name} ← ${i.producer}` : `${i.name} (parameter)`));
        box.append(element('div', { class: 'kalec-inputs' }, `inputs: ${text.join(', ')}`));
      }
      if (step.outputs.length) {
        box.append(element('div', { class: 'kalec-outputs' }, `outputs: ${step.outputs.join(', ')}`));
      }
      this.steps.append(box);
    }
    if (result.parameters.length) {
      const text = result.parameters.map(p => `${p.name}: ${p.type} = ${JSON.stringify(p.default)}`);
      this.steps.append(element('div', { class: 'kalec-parameters' }, `parameters: ${text.join(', ')}`));
    }
    if (result.metrics.length) {
      const text = result.metrics.map(m => `${m.name}${m.step ? ` (${m.step})` : ''}`);
      this.steps.append(element('div', { class: 'kalec-metrics' }, `metrics: ${text.join(', ')}`));
    }
  }

  // --- running ------------------------------------------------------------------------

  private async startRun(): Promise<void> {
    const body = this.body();
    if (!body) {
      return;
    }
    if (!this.checked) {
      await this.check();
    }
    this.say('starting the run ...', 'busy');
    try {
      const started = await this.api.post<{ id: string }>('runs', body);
      this.runId = started.id;
      this.cancelButton.hidden = false;
      await this.follow(started.id);
    } catch (error) {
      this.failed('run', error);
    }
  }

  private async follow(id: string): Promise<void> {
    const planned = (this.checked?.steps ?? []).map(s => s.name);
    for (;;) {
      const status = await this.api.get<Record<string, unknown>>(`runs/${encodeURIComponent(id)}`);
      const view = runView(planned, status);
      this.showRun(view);
      if (view.ended || this.runId !== id) {
        this.cancelButton.hidden = true;
        return;
      }
      await new Promise(resolve => setTimeout(resolve, 700));
    }
  }

  private showRun(view: RunView): void {
    const { finished, total } = progress(view);
    if (view.ended) {
      this.say(
        view.message ?? `run ${view.state}: ${finished} of ${total} steps`,
        view.state === 'ok' ? 'info' : 'error'
      );
    } else {
      this.say(`running: ${finished} of ${total} steps finished`, 'busy');
    }
    this.run.replaceChildren();
    for (const step of view.steps) {
      const row = element('details', { class: `kalec-run-step kalec-${step.state}`, 'data-step': step.name });
      const seconds = step.seconds !== null && step.state !== 'waiting' ? ` ${step.seconds.toFixed(1)} s` : '';
      row.append(element('summary', {}, `${step.name}: ${step.state}${seconds}`));
      row.append(element('pre', {}, step.output.join('\n') || step.error || '(no output)'));
      this.run.append(row);
    }
    if (view.summary) {
      this.run.append(element('pre', { class: 'kalec-summary' }, view.summary));
    }
  }

  private async cancelRun(): Promise<void> {
    if (!this.runId) {
      return;
    }
    try {
      await this.api.post(`runs/${encodeURIComponent(this.runId)}/cancel`, {});
      this.say('cancelling ...', 'busy');
    } catch (error) {
      this.failed('cancel', error);
    }
  }

  // --- building and deploying -----------------------------------------------------------

  private async buildPipeline(): Promise<void> {
    const body = this.body({ target: this.target.value });
    if (!body) {
      return;
    }
    this.say(`building ${this.target.value} ...`, 'busy');
    try {
      const built = await this.api.post<{ text: string; file_name: string }>('build', body);
      const link = element('a', { download: built.file_name });
      link.href = URL.createObjectURL(new Blob([built.text], { type: 'text/plain' }));
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      this.say(`built ${built.file_name}`);
    } catch (error) {
      this.failed('build', error);
    }
  }

  private async deploy(): Promise<void> {
    const form = new FormData(this.deployForm);
    const host = String(form.get('host') ?? '').trim();
    const experiment = String(form.get('experiment') ?? '').trim();
    const body = this.body({
      host,
      run: form.get('run') === 'on',
      ...(experiment ? { experiment } : {})
    });
    if (!body) {
      return;
    }
    this.say(`deploying to ${host} ...`, 'busy');
    try {
      const done = await this.api.post<Record<string, unknown>>('deploy', body);
      const run = done.run_id ? `, run ${String(done.run_id)}` : '';
      this.say(`deployed pipeline ${String(done.pipeline_id ?? '')}${run}`);
    } catch (error) {
      this.failed('deploy', error);
    }
  }

  // --- settings in the notebook's metadata ------------------------------------------------

  private loadSettings(): void {
    const model = this.notebook?.content.model;
    const own = (model?.getMetadata('kalec') ?? {}) as Record<string, unknown>;
    const kale = (model?.getMetadata('kubeflow_notebook') ?? {}) as Record<string, unknown>;
    for (const key of SETTINGS) {
      const input = this.settingsForm.elements.namedItem(key) as HTMLInputElement;
      const value = own[key] ?? kale[KALE_SETTINGS[key]] ?? '';
      input.value = typeof value === 'string' ? value : '';
    }
  }

  private saveSettings(): void {
    const model = this.notebook?.content.model;
    if (!model) {
      return;
    }
    const settings = { ...((model.getMetadata('kalec') ?? {}) as Record<string, unknown>) };
    for (const key of SETTINGS) {
      const value = (this.settingsForm.elements.namedItem(key) as HTMLInputElement).value.trim();
      if (value) {
        settings[key] = value;
      } else {
        delete settings[key];
      }
    }
    model.setMetadata('kalec', settings);
    this.say('settings saved in the notebook (save the notebook to keep them)');
    void this.check();
  }

  protected onCloseRequest(): void {
    this.runId = null;
  }
}
