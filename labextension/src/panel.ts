/**
 * The kalec side panel. It renders the model (`NotebookModel`) of the current notebook and
 * nothing else: each notebook has its own check, run, deploy and status, kept while the user
 * works in another one, and an answer that arrives late lands in the model of the notebook it
 * was asked for (and is dropped when a newer request of its kind was made since).
 *
 * Sections, top to bottom: the notebook and a status line; the actions (check, run locally,
 * build); the steps, each in its colour, with the cells they are made of, what they receive and
 * pass on, and during a run their state and output; problems (errors and warnings; notes folded);
 * a small overview of the graph, which opens it in a tab; the pipeline's settings (in the
 * notebook's metadata); deploy to Kubeflow Pipelines. The layout holds at the panel's default
 * 250 px and wraps at any width; JupyterLab's own buttons, inputs and colours are used so it
 * fits light and dark themes.
 */

import { PathExt } from '@jupyterlab/coreutils';
import { NotebookPanel } from '@jupyterlab/notebook';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { ApiError, KalecApi } from './api';
import { kalecEnabled, openReferenced, renderChips, setErrorCells } from './chips';
import { DeploySection } from './deploySection';
import { button, element, field, plural } from './dom';
import { GraphView } from './graph';
import { PanelDefaults, PanelHost } from './host';
import { TuneSection } from './tuneSection';
import { CheckResult, NotebookModel, Poller, Status, palette } from './model';
import { graphStates, progress, runView } from './runState';
import { renderProblems, renderRunLine, renderSteps } from './views';

const SETTINGS = ['name', 'description', 'image', 'experiment'] as const;
const KALE_SETTINGS: Record<string, string> = {
  name: 'pipeline_name',
  description: 'pipeline_description',
  image: 'docker_image',
  experiment: 'experiment_name'
};
const TARGETS = ['kfp-py', 'yaml', 'argo'];

export type { PanelDefaults };

export class KalecPanel extends Widget implements PanelHost {
  readonly defaults: PanelDefaults = { kfpUrl: '', target: 'kfp-py', experiment: '' };
  private notebook: NotebookPanel | null = null;
  private readonly models = new Map<NotebookPanel, NotebookModel>();
  private readonly pollers = new Map<NotebookModel, Poller>();
  private readonly graphRequested = new Signal<KalecPanel, void>(this);
  private readonly modelChanged = new Signal<KalecPanel, NotebookModel | null>(this);
  private readonly notebookLine = element('div', { class: 'kalec-notebook' });
  private readonly enabledBox = element('input', { type: 'checkbox', class: 'kalec-enabled' });
  private readonly status = element('div', { class: 'kalec-status', role: 'status' });
  private readonly empty = element('p', { class: 'kalec-empty' });
  private readonly body_ = element('div', { class: 'kalec-body' });
  private readonly steps = element('ol', { class: 'kalec-steps' });
  private readonly facts = element('div', { class: 'kalec-facts' });
  private readonly problems = element('div', { class: 'kalec-problems' });
  private readonly runLine = element('div', { class: 'kalec-run-line' });
  private readonly checkButton = button('Check', 'kalec-check', 'accept');
  private readonly runButton = button('Run locally', 'kalec-run-button');
  private readonly cancelButton = button('Stop run', 'kalec-cancel');
  private readonly buildButton = button('Build', 'kalec-build');
  private readonly target = element('select', { class: 'kalec-target jp-mod-styled', 'aria-label': 'build target' });
  private readonly settingsForm = element('form', { class: 'kalec-form kalec-settings' });
  readonly overview: GraphView;
  readonly deploySection: DeploySection;
  readonly tuneSection: TuneSection;

  constructor(readonly api: KalecApi) {
    super();
    this.id = 'kalec-panel';
    this.title.caption = 'kalec: the pipeline of this notebook';
    this.title.label = 'Pipeline';
    this.addClass('kalec-panel');
    this.overview = new GraphView({ onStep: () => undefined, overview: true });
    this.deploySection = new DeploySection(this, () => this.render());
    this.tuneSection = new TuneSection(this);
    this.build();
    this.render();
  }

  /** The user asked for the graph in a tab. */
  get openGraph(): ISignal<KalecPanel, void> {
    return this.graphRequested;
  }

  /** The shown model changed (another notebook, or news of the current one). */
  get changed(): ISignal<KalecPanel, NotebookModel | null> {
    return this.modelChanged;
  }

  get currentNotebook(): NotebookPanel | null {
    return this.notebook;
  }

  /** The model of ``panel``, made on first use. */
  model(panel: NotebookPanel): NotebookModel {
    let found = this.models.get(panel);
    if (!found) {
      found = new NotebookModel(panel.context.path);
      const model = found;
      model.changed.connect(() => {
        if (this.models.get(this.notebook as NotebookPanel) === model) {
          this.render();
        }
      });
      panel.disposed.connect(() => {
        this.pollers.get(model)?.stop();
        this.models.delete(panel);
      });
      panel.context.saveState.connect((_, state) => {
        if (state === 'completed' && kalecEnabled(panel)) {
          void this.check(panel);
        }
      });
      // settings are read from the metadata once the notebook has loaded
      void panel.context.ready.then(() => {
        if (this.notebook === panel) {
          this.loadSettings();
        }
      });
      this.models.set(panel, found);
    }
    return found;
  }

  get current(): NotebookModel | null {
    return this.notebook ? this.model(this.notebook) : null;
  }

  /** Follow ``panel``: render its model (checking it the first time). */
  setNotebook(panel: NotebookPanel | null): void {
    if (panel === this.notebook) {
      return;
    }
    this.notebook = panel;
    const fresh = panel !== null && !this.models.has(panel);
    this.render();
    this.loadSettings();
    if (panel && fresh) {
      void panel.context.ready.then(() => this.check(panel));
    }
  }

  private build(): void {
    const header = element('div', { class: 'kalec-header' });
    const toggle = element('label', { class: 'kalec-enable', title: 'kalec for this notebook (kept in its metadata): chips, checks, runs' });
    this.enabledBox.onchange = () => this.setEnabled(this.enabledBox.checked);
    toggle.append(this.enabledBox, element('span', {}, 'use kalec for this notebook'));
    header.append(element('h2', {}, 'Pipeline'), this.notebookLine, toggle, this.status);
    const actions = element('div', { class: 'kalec-actions' });
    this.checkButton.onclick = () => void this.check();
    this.runButton.onclick = () => void this.startRun();
    this.cancelButton.onclick = () => void this.cancelRun();
    for (const target of TARGETS) {
      this.target.appendChild(element('option', { value: target }, target));
    }
    this.buildButton.onclick = () => void this.buildPipeline();
    const buildGroup = element('span', { class: 'kalec-build-group' });
    buildGroup.append(this.target, this.buildButton);
    actions.append(this.checkButton, this.runButton, this.cancelButton, buildGroup);

    const graph = element('section', { class: 'kalec-graph-section' });
    const open = button('Open pipeline graph', 'kalec-open-graph');
    open.onclick = () => this.graphRequested.emit();
    this.overview.node.title = 'open the pipeline graph';
    this.overview.node.onclick = () => this.graphRequested.emit();
    graph.append(element('h3', {}, 'Graph'), this.overview.node, open);

    this.buildSettings();
    const settings = element('details', { class: 'kalec-settings-box' });
    settings.append(element('summary', {}, 'Settings'), this.settingsForm);
    const deploy = element('details', { class: 'kalec-deploy-box' });
    deploy.append(element('summary', {}, 'Deploy to Kubeflow Pipelines'), this.deploySection.form);
    const tune = element('details', { class: 'kalec-tune-box' });
    tune.append(element('summary', {}, 'Tune parameters'), this.tuneSection.form);

    this.body_.append(
      actions,
      this.runLine,
      element('h3', {}, 'Steps'),
      this.steps,
      this.facts,
      this.problems,
      graph,
      settings,
      tune,
      deploy
    );
    this.node.append(header, this.empty, this.body_);
  }

  private buildSettings(): void {
    const labels: Record<string, string> = {
      name: 'pipeline name',
      description: 'description',
      image: 'base image',
      experiment: 'experiment'
    };
    for (const key of SETTINGS) {
      field(this.settingsForm, labels[key], element('input', { name: key, class: 'jp-mod-styled' }));
    }
    const save = element('button', { type: 'submit', class: 'jp-Button jp-mod-styled jp-mod-accept' }, 'Save settings');
    this.settingsForm.append(save);
    this.settingsForm.onsubmit = event => {
      event.preventDefault();
      this.saveSettings();
    };
  }

  // --- rendering the current model ------------------------------------------------------

  private render(): void {
    const model = this.current;
    this.modelChanged.emit(model);
    this.empty.hidden = model !== null;
    this.body_.hidden = model === null;
    (this.enabledBox.parentElement as HTMLElement).hidden = model === null;
    if (!model) {
      this.notebookLine.textContent = '';
      this.empty.textContent =
        'Open a notebook to see the pipeline kalec makes of it: its steps, what each passes ' +
        'to the next, and any problem, with Check, Run and Deploy.';
      this.say({ text: 'no notebook open', kind: 'empty' });
      return;
    }
    this.notebookLine.textContent = model.path;
    this.notebookLine.title = model.path;
    const enabled = this.notebook ? kalecEnabled(this.notebook) : true;
    this.enabledBox.checked = enabled;
    this.body_.hidden = !enabled;
    if (!enabled) {
      this.say({ text: 'kalec is off for this notebook: tick the box to make it a pipeline', kind: 'empty' });
      return;
    }
    this.say(model.status);
    const running = model.run !== null && !model.run.ended;
    this.cancelButton.hidden = !running;
    this.runButton.disabled = running;
    const actions = {
      reveal: (cell: number, line: number | null) => this.reveal(cell, line),
      open: (path: string) => openReferenced(model.path, path)
    };
    renderSteps(this.steps, this.facts, model, actions);
    renderProblems(this.problems, model, actions);
    renderRunLine(this.runLine, model);
    const shown = model.check?.ok ? model.check : model.lastGood;
    const stale = model.check && !model.check.ok && model.lastGood ? 'the last version without errors' : '';
    this.overview.draw(model.graphSvg, palette((shown?.steps ?? []).map(s => s.name)), stale);
    this.overview.showStates(graphStates(model));
    this.deploySection.render(model);
    this.tuneSection.render(model);
    if (!this.target.dataset.touched) {
      this.target.value = TARGETS.includes(this.defaults.target) ? this.defaults.target : 'kfp-py';
    }
    if (this.notebook) {
      setErrorCells(this.notebook, model.errorCells());
    }
  }

  private say(status: { text: string; kind: string }): void {
    this.status.textContent = status.text;
    this.status.dataset.kind = status.kind;
  }

  /** Select notebook cell ``number`` (1-based, every cell counted) and put the cursor on ``line``. */
  reveal(number: number, line: number | null): void {
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

  // --- requests: each writes into the model of the notebook it was made for ----------------

  /** The request body naming the notebook: its current content, and its path in Jupyter. */
  body(panel: NotebookPanel, extra: Record<string, unknown> = {}): Record<string, unknown> {
    const path = panel.context.path;
    const body: Record<string, unknown> = {
      nb: panel.content.model?.toJSON(),
      name: PathExt.basename(path),
      ...extra
    };
    if (this.api.inJupyter) {
      body.path = path; // its folder: local modules beside it, and where its steps run
    }
    return body;
  }

  private failure(what: string, error: unknown): string {
    const message = error instanceof ApiError ? error.message : String(error);
    return `${what} failed: ${message}`;
  }

  async check(panel: NotebookPanel | null = this.notebook): Promise<void> {
    if (!panel) {
      return;
    }
    const model = this.model(panel);
    const ticket = model.begin('check');
    // while a run goes on, the status line is the run's: a check (on save) keeps to Problems
    model.update(model.checkStatus({ text: 'checking ...', kind: 'busy' }));
    try {
      const result = await this.api.post<CheckResult>('check', this.body(panel));
      if (!model.isCurrent('check', ticket)) {
        return; // a newer check was asked for: its answer is the one to show
      }
      const errors = result.diagnostics.filter(d => d.severity === 'error').length;
      const status: Status = result.ok
        ? { text: `${plural(result.steps.length, 'step')}, no errors`, kind: 'info' }
        : { text: `${plural(errors, 'error')}: see Problems`, kind: 'error' };
      model.update({
        check: result,
        lastGood: result.ok ? result : model.lastGood,
        ...model.checkStatus(status)
      });
      if (result.ok) {
        await this.refreshGraph(panel, model);
      }
    } catch (error) {
      if (model.isCurrent('check', ticket)) {
        const diagnostics = error instanceof ApiError ? error.diagnostics : [];
        const check = diagnostics.length && model.check ? { ...model.check, ok: false, diagnostics } : model.check;
        const status: Status = { text: this.failure('check', error), kind: 'error' };
        model.update({ check, ...model.checkStatus(status) });
      }
    }
  }

  private async refreshGraph(panel: NotebookPanel, model: NotebookModel): Promise<void> {
    const ticket = model.begin('graph');
    try {
      const drawn = await this.api.post<{ text: string }>('graph', this.body(panel, { format: 'svg' }));
      if (model.isCurrent('graph', ticket)) {
        model.update({ graphSvg: drawn.text });
      }
    } catch {
      // the check said what is wrong; the graph keeps its last good drawing
    }
  }

  /** Run the current notebook on this machine (the Run locally button, the command). */
  async startRun(): Promise<void> {
    const panel = this.notebook;
    if (!panel) {
      return;
    }
    const model = this.model(panel);
    if (!model.check) {
      await this.check(panel);
    }
    model.begin('run');
    this.pollers.get(model)?.stop();
    model.update({
      status: { text: 'starting the run ...', kind: 'busy' },
      run: runView((model.check?.steps ?? []).map(s => s.name), null),
      graphRun: 'local'
    });
    try {
      const started = await this.api.post<{ id: string }>('runs', this.body(panel));
      model.update({ runId: started.id });
      this.follow(model, started.id);
    } catch (error) {
      model.update({ run: null, status: { text: this.failure('run', error), kind: 'error' } });
    }
  }

  private follow(model: NotebookModel, id: string): void {
    const planned = (model.check?.steps ?? []).map(s => s.name);
    const poller = new Poller(
      async () => {
        const status = await this.api.get<Record<string, unknown>>(`runs/${encodeURIComponent(id)}`);
        if (model.runId !== id) {
          return true; // another run was started since
        }
        const view = runView(planned, status);
        const { finished, total } = progress(view);
        const text = view.ended
          ? view.message ?? `run ${view.state}: ${finished} of ${total} steps`
          : `running: ${finished} of ${total} steps finished`;
        model.update({ run: view, status: { text, kind: view.ended ? (view.state === 'ok' ? 'info' : 'error') : 'busy' } });
        return view.ended;
      },
      (failures, retry, error) => {
        const why = error instanceof ApiError ? error.message : String(error);
        model.update({
          status: { text: `lost touch with the run (${plural(failures, 'failed request')}: ${why}); trying again in ${Math.round(retry / 1000)} s`, kind: 'busy' }
        });
      }
    );
    this.pollers.set(model, poller);
    void poller.start();
  }

  private async cancelRun(): Promise<void> {
    const model = this.current;
    if (!model?.runId) {
      return;
    }
    try {
      await this.api.post(`runs/${encodeURIComponent(model.runId)}/cancel`, {});
      model.update({ status: { text: 'stopping the run ...', kind: 'busy' } });
    } catch (error) {
      model.update({ status: { text: this.failure('stop', error), kind: 'error' } });
    }
  }

  /** Download the pipeline for the chosen target (the Build button, the command). */
  async buildPipeline(): Promise<void> {
    const panel = this.notebook;
    if (!panel) {
      return;
    }
    const model = this.model(panel);
    const target = this.target.value;
    model.update({ status: { text: `building ${target} ...`, kind: 'busy' } });
    try {
      const built = await this.api.post<{ text: string; file_name: string }>('build', this.body(panel, { target }));
      const link = element('a', { download: built.file_name });
      link.href = URL.createObjectURL(new Blob([built.text], { type: 'text/plain' }));
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      model.update({ status: { text: `built ${built.file_name}`, kind: 'info' } });
    } catch (error) {
      model.update({ status: { text: this.failure('build', error), kind: 'error' } });
    }
  }

  // --- settings in the notebook's metadata ------------------------------------------------

  savedSetting(key: (typeof SETTINGS)[number]): string {
    const model = this.notebook?.content.model;
    const own = (model?.getMetadata('kalec') ?? {}) as Record<string, unknown>;
    const kale = (model?.getMetadata('kubeflow_notebook') ?? {}) as Record<string, unknown>;
    const value = own[key] ?? kale[KALE_SETTINGS[key]] ?? '';
    return typeof value === 'string' ? value : '';
  }

  private loadSettings(): void {
    for (const key of SETTINGS) {
      const input = this.settingsForm.elements.namedItem(key) as HTMLInputElement;
      input.value = this.savedSetting(key);
    }
    this.deploySection.loadSettings();
  }

  private saveSettings(): void {
    const model = this.notebook?.content.model;
    if (!model || !this.notebook) {
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
    this.model(this.notebook).update({ status: { text: 'settings saved in the notebook (save the notebook to keep them)', kind: 'info' } });
    void this.check();
  }

  /** Turn kalec on or off for the current notebook (its metadata); off hides its chips. */
  private setEnabled(enabled: boolean): void {
    const panel = this.notebook;
    const model = panel?.content.model;
    if (!panel || !model) {
      return;
    }
    const own = { ...((model.getMetadata('kalec') ?? {}) as Record<string, unknown>) };
    if (enabled) {
      delete own.enabled;
    } else {
      own.enabled = false;
    }
    model.setMetadata('kalec', own);
    renderChips(panel, () => void this.check(panel));
    this.render();
    if (enabled) {
      void this.check(panel);
    }
  }

  /** The build target the user chose last (kept over renders). */
  setTargetTouched(): void {
    this.target.dataset.touched = '1';
  }

  protected onAfterAttach(): void {
    this.target.onchange = () => this.setTargetTouched();
  }
}
