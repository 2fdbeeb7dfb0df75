/**
 * The panel's Tune section: the search space (the notebook's, in Katib's fields, editable and
 * saved in its metadata; one made from its parameters when it has none), a search started on
 * the server (``/api/v1/tunes``), its trials in a table as they finish, the best one marked,
 * and "Apply best", which writes the best values into the pipeline-parameters cell.
 */

import { TuneStatus } from './answers';
import { ApiError } from './api';
import { button, element, field, plural } from './dom';
import { PanelHost } from './host';
import { NotebookModel, Poller, defaultSpace, withValues } from './model';

function failure(what: string, error: unknown): string {
  const message = error instanceof ApiError ? error.message : String(error);
  return `${what} failed: ${message}`;
}

export class TuneSection {
  readonly form = element('form', { class: 'kalec-form kalec-tune' });
  private readonly tuneSpace = element('textarea', { name: 'space', class: 'jp-mod-styled kalec-tune-space', rows: '8', spellcheck: 'false', 'aria-label': 'search space' });
  private readonly tuneStatus = element('div', { class: 'kalec-tune-status', role: 'status' });
  private readonly tuneTable = element('div', { class: 'kalec-tune-table' });
  private readonly tunePollers = new Map<NotebookModel, Poller>();

  constructor(private readonly host: PanelHost) {
    this.build();
  }

  private get tuneForm(): HTMLFormElement {
    return this.form;
  }

  private build(): void {
    field(this.tuneForm, 'search space (Katib\'s fields; saved in the notebook)', this.tuneSpace);
    const trials = element('input', { name: 'trials', type: 'number', min: '1', class: 'jp-mod-styled', placeholder: 'the space\'s maxTrialCount' });
    field(this.tuneForm, 'trials', trials);
    const buttons = element('div', { class: 'kalec-actions' });
    const start = element('button', { type: 'submit', class: 'jp-Button jp-mod-styled jp-mod-accept kalec-tune-start' }, 'Start search');
    const stop = button('Stop', 'kalec-tune-stop');
    stop.onclick = () => void this.stopTune();
    const apply = button('Apply best', 'kalec-tune-apply');
    apply.title = 'write the best trial\'s values into the pipeline-parameters cell';
    apply.onclick = () => this.applyBest();
    buttons.append(start, stop, apply);
    this.tuneForm.append(buttons, this.tuneStatus, this.tuneTable);
    this.tuneForm.onsubmit = event => {
      event.preventDefault();
      void this.startTune();
    };
  }

  render(model: NotebookModel): void {
    const check = model.check ?? model.lastGood;
    if (this.tuneSpace.dataset.for !== model.path) {
      this.tuneSpace.dataset.for = model.path; // another notebook: its own space
      this.tuneSpace.value = '';
    }
    if (!this.tuneSpace.value && check) {
      // the notebook's own space, else one to start from; kept while the user edits it
      this.tuneSpace.value = JSON.stringify(check.search ?? defaultSpace(check), null, 1);
    }
    const tune = model.tune;
    const running = tune?.state === 'running';
    (this.tuneForm.querySelector('.kalec-tune-stop') as HTMLButtonElement).hidden = !running;
    (this.tuneForm.querySelector('.kalec-tune-start') as HTMLButtonElement).disabled = running;
    (this.tuneForm.querySelector('.kalec-tune-apply') as HTMLButtonElement).disabled = !tune?.best;
    this.tuneTable.replaceChildren();
    if (!tune) {
      this.tuneStatus.textContent = '';
      return;
    }
    const done = tune.trials.filter(t => t.state === 'complete').length;
    const best = tune.best ? `; best ${tune.best.value} (trial ${tune.best.number})` : '';
    this.tuneStatus.textContent = `search ${tune.state}: ${done} of ${tune.trials.length} trials gave a value${best}`;
    this.tuneStatus.dataset.kind = tune.state === 'failed' || tune.state === 'refused' ? 'error' : tune.state;
    if (!tune.trials.length) {
      return;
    }
    const names = Object.keys(tune.trials[0].params);
    const table = element('table', { class: 'kalec-trials' });
    const head = element('tr');
    for (const title of ['#', ...names, 'value', 's', 'run/reused']) {
      head.append(element('th', {}, title));
    }
    table.append(head);
    for (const trial of tune.trials) {
      const row = element('tr', { class: trial.number === tune.best?.number ? 'kalec-best' : '' });
      const cells = [
        String(trial.number),
        ...names.map(n => String(trial.params[n] ?? '')),
        trial.value === null ? trial.state : String(Number(trial.value.toPrecision(6))),
        trial.seconds === null ? '' : trial.seconds.toFixed(1),
        trial.ran === null ? '' : `${trial.ran}/${trial.reused}`
      ];
      for (const text of cells) {
        row.append(element('td', {}, text));
      }
      if (trial.error) {
        row.title = trial.error;
      }
      table.append(row);
    }
    this.tuneTable.append(table);
  }

  async startTune(): Promise<void> {
    const panel = this.host.currentNotebook;
    if (!panel) {
      return;
    }
    const model = this.host.model(panel);
    let space: Record<string, unknown>;
    try {
      space = JSON.parse(this.tuneSpace.value);
    } catch (error) {
      model.update({ tune: { id: '', state: 'refused', trials: [], best: null, errors: `the search space is not JSON: ${String(error)}` } });
      this.tuneStatus.textContent = `the search space is not JSON: ${String(error)}`;
      return;
    }
    panel.content.model?.setMetadata('kalec', { ...((panel.content.model.getMetadata('kalec') ?? {}) as object), tune: space });
    const trialsText = (this.tuneForm.elements.namedItem('trials') as HTMLInputElement).value.trim();
    const ticket = model.begin('tune');
    this.tunePollers.get(model)?.stop();
    try {
      const started = await this.host.api.post<{ id: string }>('tunes', this.host.body(panel, { space, ...(trialsText ? { trials: Number(trialsText) } : {}) }));
      if (!model.isCurrent('tune', ticket)) {
        return;
      }
      model.update({ tune: { id: started.id, state: 'running', trials: [], best: null } });
      const poller = new Poller(
        async () => {
          const state = await this.host.api.get<TuneStatus>(`tunes/${encodeURIComponent(started.id)}`);
          if (model.tune?.id !== started.id) {
            return true;
          }
          model.update({ tune: state });
          return state.state !== 'running';
        },
        (failures, retry) => model.update({ status: { text: `lost touch with the search (${plural(failures, 'failed request')}); trying again in ${Math.round(retry / 1000)} s`, kind: 'busy' } }),
        1000
      );
      this.tunePollers.set(model, poller);
      void poller.start();
    } catch (error) {
      const message = error instanceof ApiError ? error.message : String(error);
      model.update({ tune: { id: '', state: 'refused', trials: [], best: null, errors: message } });
      this.tuneStatus.textContent = `the search was refused: ${message}`;
      this.tuneStatus.dataset.kind = 'error';
    }
  }

  private async stopTune(): Promise<void> {
    const model = this.host.current;
    if (!model?.tune?.id) {
      return;
    }
    try {
      await this.host.api.post(`tunes/${encodeURIComponent(model.tune.id)}/cancel`, {});
    } catch (error) {
      model.update({ status: { text: failure('stop', error), kind: 'error' } });
    }
  }

  /** Write the best trial's values into the notebook's pipeline-parameters cell. */
  applyBest(): void {
    const panel = this.host.currentNotebook;
    const best = this.host.current?.tune?.best;
    if (!panel || !best) {
      return;
    }
    const cell = panel.content.widgets.find(c => {
      const tags = c.model.getMetadata('tags');
      return Array.isArray(tags) && tags.some(t => t === 'pipeline-parameters' || t === 'parameters');
    });
    if (!cell) {
      this.host.model(panel).update({ status: { text: 'the notebook has no pipeline-parameters cell to write into', kind: 'error' } });
      return;
    }
    cell.model.sharedModel.setSource(withValues(cell.model.sharedModel.getSource(), best.params));
    this.host.model(panel).update({ status: { text: `wrote trial ${best.number}'s values into the parameters cell`, kind: 'info' } });
  }


}
