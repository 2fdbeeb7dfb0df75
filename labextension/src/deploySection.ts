/**
 * The panel's Deploy section: the Kubeflow Pipelines URL (the settings' default), the
 * experiment (the server's list when it can be asked), whether to start a run and the run's
 * parameters in a form typed by each parameter's type; its progress, the link to the run, and
 * errors in words.
 */

import { KfpRunStatus } from './answers';
import { ApiError } from './api';
import { element, field } from './dom';
import { PanelHost } from './host';
import { NotebookModel, Poller, deployError, parameterValue, runLink } from './model';

/** The ways the server may sign in to Kubeflow Pipelines (kalec.deploy.auth), first the
 * server's own choice: the first way its environment offers. */
const AUTH_CHOICES: [string, string][] = [
  ['', 'what the server has (first available)'],
  ['sa', 'service-account token (in-cluster)'],
  ['cookies', 'session cookies (Dex / oauth2-proxy)'],
  ['token', 'bearer token'],
  ['none', 'no credentials']
];

export class DeploySection {
  readonly form = element('form', { class: 'kalec-form kalec-deploy' });
  private readonly paramsBox = element('fieldset', { class: 'kalec-run-params' });
  private readonly deployStatus = element('div', { class: 'kalec-deploy-status', role: 'status' });
  private readonly experimentList = element('datalist', { id: `kalec-experiments-${Math.random().toString(36).slice(2)}` });

  constructor(
    private readonly host: PanelHost,
    private readonly rerender: () => void
  ) {
    this.build();
  }

  private get deployForm(): HTMLFormElement {
    return this.form;
  }

  private build(): void {
    const host = element('input', { name: 'host', class: 'jp-mod-styled', placeholder: 'http://localhost:8080' });
    const experiment = element('input', { name: 'experiment', class: 'jp-mod-styled', list: this.experimentList.id });
    field(this.deployForm, 'Kubeflow Pipelines URL', host);
    field(this.deployForm, 'experiment', experiment);
    this.deployForm.append(this.experimentList);
    // How the server authenticates to Kubeflow Pipelines: credentials stay in its environment
    const auth = element('select', { name: 'auth', class: 'jp-mod-styled' });
    for (const [value, label] of AUTH_CHOICES) {
      auth.append(element('option', { value }, label));
    }
    field(this.deployForm, 'sign in with', auth);
    const namespace = element('input', { name: 'namespace', class: 'jp-mod-styled', placeholder: 'your profile (multi-user)' });
    field(this.deployForm, 'namespace', namespace);
    host.onchange = () => void this.loadExperiments();
    auth.onchange = () => void this.loadExperiments();
    namespace.onchange = () => void this.loadExperiments();
    const run = element('label', { class: 'kalec-check-field' });
    run.append(element('input', { name: 'run', type: 'checkbox' }), element('span', {}, 'start a run'));
    this.deployForm.append(run, this.paramsBox);
    const submit = element('button', { type: 'submit', class: 'jp-Button jp-mod-styled jp-mod-accept kalec-deploy-button' }, 'Deploy');
    this.deployForm.append(submit, this.deployStatus);
    this.deployForm.onsubmit = event => {
      event.preventDefault();
      void this.deploy();
    };
    (run.querySelector('input') as HTMLInputElement).onchange = () => this.rerender();
  }

  private renderParams(model: NotebookModel): void {
    const run = (this.deployForm.elements.namedItem('run') as HTMLInputElement).checked;
    const params = model.check?.parameters ?? model.lastGood?.parameters ?? [];
    const kept = new Map<string, string>();
    for (const input of Array.from(this.paramsBox.querySelectorAll('input'))) {
      kept.set(input.name, input.type === 'checkbox' ? String(input.checked) : input.value);
    }
    this.paramsBox.replaceChildren();
    this.paramsBox.hidden = !run || !params.length;
    if (!params.length) {
      return;
    }
    this.paramsBox.append(element('legend', {}, 'run parameters'));
    for (const param of params) {
      const name = `param:${param.name}`;
      const shown = typeof param.default === 'string' ? param.default : JSON.stringify(param.default);
      let input: HTMLInputElement;
      if (param.type === 'bool') {
        input = element('input', { name, type: 'checkbox' });
        input.checked = (kept.get(name) ?? String(param.default)) === 'true';
      } else {
        const numeric = param.type === 'int' || param.type === 'float';
        input = element('input', { name, class: 'jp-mod-styled', type: numeric ? 'number' : 'text' });
        if (param.type === 'float') {
          input.step = 'any';
        }
        input.value = kept.get(name) ?? shown ?? '';
      }
      field(this.paramsBox, `${param.name} (${param.type})`, input);
    }
  }

  render(model: NotebookModel): void {
    this.renderParams(model);
    const host = this.deployForm.elements.namedItem('host') as HTMLInputElement;
    if (!host.value && this.host.defaults.kfpUrl) {
      host.value = this.host.defaults.kfpUrl;
    }
    const experiment = this.deployForm.elements.namedItem('experiment') as HTMLInputElement;
    if (!experiment.value) {
      experiment.value = this.host.savedSetting('experiment') || this.host.defaults.experiment;
    }
    this.experimentList.replaceChildren(...model.experiments.map(name => element('option', { value: name })));
    this.deployStatus.replaceChildren();
    this.deployStatus.dataset.kind = model.deploy.state;
    if (model.deploy.text) {
      this.deployStatus.append(element('span', {}, model.deploy.text));
    }
    if (model.deploy.runUrl) {
      const link = element('a', { href: model.deploy.runUrl, target: '_blank', rel: 'noopener noreferrer' }, 'open the run in Kubeflow Pipelines');
      this.deployStatus.append(' ', link);
    }
  }

  /** The way the server signs in and the namespace, as the form says (left out when unset:
   * the server's first available way, a single-user install). Never a credential. */
  private signIn(): { auth?: string; namespace?: string } {
    const form = new FormData(this.deployForm);
    const auth = String(form.get('auth') ?? '');
    const namespace = String(form.get('namespace') ?? '').trim();
    return { ...(auth ? { auth } : {}), ...(namespace ? { namespace } : {}) };
  }

  /** The experiments of the server the deploy form names, for its list. */
  async loadExperiments(): Promise<void> {
    const model = this.host.current;
    const host = (this.deployForm.elements.namedItem('host') as HTMLInputElement).value.trim();
    if (!model || !/^https?:\/\//.test(host)) {
      return;
    }
    const ticket = model.begin('experiments');
    try {
      const found = await this.host.api.post<{ experiments: string[] }>('experiments', { host, ...this.signIn() });
      if (model.isCurrent('experiments', ticket)) {
        model.update({ experiments: found.experiments });
      }
    } catch {
      if (model.isCurrent('experiments', ticket)) {
        model.update({ experiments: [] }); // typed by hand; deploy says what is wrong
      }
    }
  }

  async deploy(): Promise<void> {
    const panel = this.host.currentNotebook;
    if (!panel) {
      return;
    }
    const model = this.host.model(panel);
    const form = new FormData(this.deployForm);
    const host = String(form.get('host') ?? '').trim();
    const experiment = String(form.get('experiment') ?? '').trim();
    const run = form.get('run') === 'on';
    if (!/^https?:\/\//.test(host)) {
      model.update({ deploy: { state: 'error', text: 'give the Kubeflow Pipelines URL, http(s)://...', runUrl: null } });
      return;
    }
    const params: Record<string, unknown> = {};
    if (run) {
      for (const param of model.check?.parameters ?? []) {
        const input = this.paramsBox.querySelector(`input[name="param:${CSS.escape(param.name)}"]`) as HTMLInputElement | null;
        if (!input) {
          continue;
        }
        const read = parameterValue(param.type, input.type === 'checkbox' ? String(input.checked) : input.value);
        if (read.error) {
          model.update({ deploy: { state: 'error', text: `${param.name}: ${read.error}`, runUrl: null } });
          input.focus();
          return;
        }
        params[param.name] = read.value;
      }
    }
    const ticket = model.begin('deploy');
    model.update({ deploy: { state: 'busy', text: `uploading to ${host}${run ? ' and starting a run' : ''} ...`, runUrl: null } });
    try {
      const done = await this.host.api.post<Record<string, unknown>>(
        'deploy',
        this.host.body(panel, { host, run, ...this.signIn(), ...(experiment ? { experiment } : {}), ...(run ? { params } : {}) })
      );
      if (!model.isCurrent('deploy', ticket)) {
        return;
      }
      const runId = done.run_id ? String(done.run_id) : null;
      const text = `uploaded ${String(done.pipeline_name ?? 'the pipeline')}${runId ? `; run ${runId} started` : ''}`;
      model.update({ deploy: { state: 'done', text, runUrl: runId ? runLink(host, runId) : null } });
      if (runId) {
        void this.followRun(model, host, runId, text);
      }
    } catch (error) {
      if (model.isCurrent('deploy', ticket)) {
        const message = error instanceof ApiError ? error.message : String(error);
        model.update({ deploy: { state: 'error', text: deployError(host, message), runUrl: null } });
      }
    }
  }


  /** Follow the run a deploy started on the cluster until it ends: its state under the deploy
   * form, each step's on the graph (the server asks Kubeflow Pipelines, as it signs in). */
  private async followRun(model: NotebookModel, host: string, runId: string, uploaded: string): Promise<void> {
    const ticket = model.begin('cluster-run');
    model.update({ clusterRun: null, graphRun: 'cluster' });
    const signIn = this.signIn();
    const poller = new Poller(
      async () => {
        if (!model.isCurrent('cluster-run', ticket)) {
          return true; // another deploy started a newer run
        }
        const status = await this.host.api.post<KfpRunStatus>('kfp-runs', { host, run_id: runId, ...signIn });
        if (model.isCurrent('cluster-run', ticket)) {
          const finished = status.steps.filter(s => !['PENDING', 'RUNNING'].includes(s.state)).length;
          const text = `${uploaded}; run ${status.state.toLowerCase()}: ${finished} of ${status.steps.length} steps finished`;
          model.update({ clusterRun: status, deploy: { state: status.state === 'FAILED' ? 'error' : 'done', text, runUrl: status.link } });
        }
        return status.ended;
      },
      (failures, retry, error) => {
        if (model.isCurrent('cluster-run', ticket)) {
          const message = error instanceof ApiError ? error.message : String(error);
          const text = `${uploaded}; cannot follow the run (${message}); asking again in ${Math.round(retry / 1000)} s`;
          model.update({ deploy: { state: 'done', text, runUrl: runLink(host, runId) } });
        }
      },
      5000,
      60000
    );
    await poller.start();
  }

  /** The notebook changed: its experiment, as its settings name it. */
  loadSettings(): void {
    const experiment = this.form.elements.namedItem('experiment') as HTMLInputElement;
    experiment.value = this.host.savedSetting('experiment') || this.host.defaults.experiment;
  }
}
