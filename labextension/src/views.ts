/**
 * How the panel draws a notebook's model: the steps (each in its colour, with its cells, what it
 * receives and passes on, and during a run its state, time and output), the parameters and
 * metrics, the problems (notes folded), and the run's progress. Plain functions of the model,
 * so the panel redraws the current notebook and nothing else.
 */

import { Diagnostic } from './api';
import { element, plural } from './dom';
import { NotebookModel, palette } from './model';
import { StepView, progress } from './runState';

/** What a click in the drawing does: select a cell of the notebook, or open another one. */
export interface Actions {
  reveal(cell: number, line: number | null): void;
  open(notebookPath: string): void;
}

export function renderSteps(steps: HTMLElement, facts: HTMLElement, model: NotebookModel, act: Actions): void {
  steps.replaceChildren();
  facts.replaceChildren();
  const check = model.check ?? model.lastGood;
  if (!check) {
    steps.append(element('li', { class: 'kalec-none' }, 'Check the notebook to see its steps.'));
    return;
  }
  const colours = palette(check.steps.map(s => s.name));
  const runs = new Map<string, StepView>((model.run?.steps ?? []).map(s => [s.name, s]));
  for (const step of check.steps) {
    const item = element('li', { class: 'kalec-step', 'data-step': step.name });
    item.style.setProperty('--kalec-step-colour', colours.get(step.name) ?? '');
    const head = element('div', { class: 'kalec-step-head' });
    const name = element('button', { type: 'button', class: 'kalec-step-name', title: step.notebook ? `open ${step.notebook}` : 'select its cells' }, step.name);
    name.onclick = () => (step.notebook ? act.open(step.notebook) : act.reveal(step.cells[0] ?? 0, null));
    head.append(element('span', { class: 'kalec-swatch', 'aria-hidden': 'true' }), name);
    const ran = runs.get(step.name);
    if (ran) {
      const seconds = ran.seconds !== null && ran.state !== 'waiting' ? ` ${ran.seconds.toFixed(1)} s` : '';
      head.append(element('span', { class: `kalec-badge kalec-${ran.state}` }, `${ran.state}${seconds}`));
    }
    item.append(head);
    const cells = `${step.cells.length === 1 ? 'cell' : 'cells'} ${step.cells.join(', ')}`;
    const after = [...new Set(step.dependencies.map(d => d.step))];
    const where = step.notebook ? ` of ${step.notebook}` : '';
    item.append(element('div', { class: 'kalec-step-cells' }, after.length ? `${cells}${where} · after ${after.join(', ')}` : `${cells}${where}`));
    const received = step.inputs.filter(i => i.kind === 'artifact' || i.kind === 'param');
    if (received.length) {
      const text = received.map(i => (i.producer ? `${i.name} ← ${i.producer}` : `${i.name} (parameter)`));
      item.append(element('div', { class: 'kalec-inputs' }, `in: ${text.join(', ')}`));
    }
    if (step.outputs.length) {
      item.append(element('div', { class: 'kalec-outputs' }, `out: ${step.outputs.join(', ')}`));
    }
    if (ran && (ran.output.length || ran.error || ran.note)) {
      const output = element('details', { class: 'kalec-step-output' });
      output.open = ran.state === 'failed';
      output.append(element('summary', {}, ran.state === 'failed' ? 'error' : 'output'));
      const text = [ran.note ? `(${ran.note})` : '', ran.output.join('\n'), ran.error ?? ''].filter(Boolean).join('\n');
      output.append(element('pre', {}, text));
      item.append(output);
    }
    steps.append(item);
  }
  if (check.parameters.length) {
    const text = check.parameters.map(p => `${p.name} = ${JSON.stringify(p.default)}`);
    facts.append(element('div', { class: 'kalec-parameters' }, `parameters: ${text.join(', ')}`));
  }
  if (check.metrics.length) {
    const values = model.run?.metrics ?? {};
    const text = check.metrics.map(m => (m.name in values ? `${m.name} = ${String(values[m.name])}` : m.name));
    facts.append(element('div', { class: 'kalec-metrics' }, `metrics: ${text.join(', ')}`));
  }
}

function diagnosticItem(found: Diagnostic, act: Actions): HTMLElement {
  const where = found.cell
    ? `${found.notebook ? `${found.notebook}, ` : ''}cell ${found.cell}${found.line ? `, line ${found.line}` : ''}: `
    : '';
  const item = element('li', { class: `kalec-diagnostic kalec-${found.severity}` });
  item.append(element('span', { class: 'kalec-code' }, `${found.code}`), ` ${where}${found.message}`);
  if (found.hint) {
    item.append(element('div', { class: 'kalec-hint' }, found.hint));
  }
  if (found.cell && !found.notebook) {
    item.title = 'select this cell';
    item.tabIndex = 0;
    item.onclick = () => act.reveal(found.cell as number, found.line);
  }
  return item;
}

export function renderProblems(problems: HTMLElement, model: NotebookModel, act: Actions): void {
  problems.replaceChildren();
  const all = model.check?.diagnostics ?? [];
  const serious = all.filter(d => d.severity !== 'note');
  const notes = all.filter(d => d.severity === 'note');
  if (!model.check) {
    return;
  }
  problems.append(element('h3', {}, serious.length ? `Problems (${serious.length})` : 'Problems'));
  const list = element('ul', { class: 'kalec-diagnostics' });
  if (!serious.length) {
    list.append(element('li', { class: 'kalec-none' }, 'none'));
  }
  for (const found of serious) {
    list.append(diagnosticItem(found, act));
  }
  problems.append(list);
  if (notes.length) {
    const folded = element('details', { class: 'kalec-notes' });
    folded.append(element('summary', {}, plural(notes.length, 'note')));
    const noteList = element('ul', { class: 'kalec-diagnostics' });
    for (const found of notes) {
      noteList.append(diagnosticItem(found, act));
    }
    folded.append(noteList);
    problems.append(folded);
  }
}

export function renderRunLine(runLine: HTMLElement, model: NotebookModel): void {
  runLine.replaceChildren();
  if (!model.run) {
    return;
  }
  const { finished, total } = progress(model.run);
  const bar = element('progress', { max: String(total || 1), value: String(finished), 'aria-label': 'run progress' });
  const text = model.run.ended
    ? model.run.message ?? `run ${model.run.state}: ${finished} of ${total} steps`
    : `running: ${finished} of ${total} steps finished`;
  runLine.dataset.state = model.run.state;
  runLine.append(bar, element('span', {}, text));
  if (model.run.ended && model.run.summary) {
    // the table kalec prints at a run's end: each step, its state, seconds, where values came from
    runLine.append(element('pre', { class: 'kalec-run-summary', 'aria-label': 'run summary' }, model.run.summary));
  }
}
