/**
 * The chip above each code cell: its step in the step's colour, or its role; cells that
 * continue the step above show it quietly. Clicking opens a small editor that writes the cell's
 * `tags` metadata (step name with completion, depends-on, the other kalec tags).
 */

import { Cell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';

import { PALETTE } from './model';
import { Chip, Edit, Role, chips, editProblem, parseTags, referenceProblem, stepNames, writeTags } from './tags';

const CHIP_CLASS = 'kalec-chip';
const EDITOR_CLASS = 'kalec-chip-editor';
const ROLES: Role[] = ['imports', 'functions', 'parameters', 'metrics', 'skip'];

function cellTags(cell: Cell): unknown[] {
  const tags = cell.model.getMetadata('tags');
  return Array.isArray(tags) ? tags : [];
}

/** Per notebook: the cells (numbered as the notebook counts them) an error points at. */
const errorCells = new WeakMap<NotebookPanel, Map<number, string>>();

/** Mark the chips of the cells the last check's errors point at (and redraw the chips). */
export function setErrorCells(panel: NotebookPanel, cells: Map<number, string>): void {
  const before = errorCells.get(panel);
  const same = before && before.size === cells.size && [...cells].every(([n, text]) => before.get(n) === text);
  errorCells.set(panel, cells);
  if (!same) {
    renderChips(panel, lastEdited.get(panel) ?? (() => undefined));
  }
}

const lastEdited = new WeakMap<NotebookPanel, () => void>();

/** How a reference chip opens the notebook it names (set by the plugin: JupyterLab's opener). */
let openNotebook: (path: string) => void = () => undefined;

export function setNotebookOpener(open: (path: string) => void): void {
  openNotebook = open;
}

/** Open a notebook a composition references (``relative`` from the folder of ``from``). */
export function openReferenced(from: string, relative: string): void {
  openNotebook(referencedPath(from, relative));
}

/** A referenced notebook's path in Jupyter: ``relative`` from the folder of ``from``. */
export function referencedPath(from: string, relative: string): string {
  const parts = from.split('/').slice(0, -1);
  for (const part of relative.split('/')) {
    if (part === '..') {
      parts.pop();
    } else if (part && part !== '.') {
      parts.push(part);
    }
  }
  return parts.join('/');
}

/** A step's colour: its place among the notebook's steps, in the panel's palette. */
function colourOf(names: string[], step: string): string {
  const index = names.indexOf(step);
  return PALETTE[(index < 0 ? 0 : index) % PALETTE.length];
}

function codeCells(panel: NotebookPanel): Cell[] {
  return panel.content.widgets.filter(cell => cell.model.type === 'code');
}

/** Draw (again) the chips of every code cell of the notebook. */
/** Whether kalec is on for the notebook (``kalec.enabled`` in its metadata; on unless false). */
export function kalecEnabled(panel: NotebookPanel): boolean {
  const own = panel.content.model?.getMetadata('kalec') as Record<string, unknown> | undefined;
  return own?.enabled !== false;
}

export function renderChips(panel: NotebookPanel, onEdited: () => void): void {
  if (!kalecEnabled(panel)) {
    panel.content.node.querySelectorAll(`.${CHIP_CLASS}, .${EDITOR_CLASS}`).forEach(node => node.remove());
    return; // the notebook is not a pipeline: no chips
  }
  const cells = codeCells(panel);
  const parsed = cells.map(cell => parseTags(cellTags(cell)));
  const shown = chips(parsed);
  const names = stepNames(parsed);
  lastEdited.set(panel, onEdited);
  const errors = errorCells.get(panel) ?? new Map<number, string>();
  const numbers = new Map(panel.content.widgets.map((cell, index) => [cell, index + 1]));
  cells.forEach((cell, index) => {
    const home = chipHome(cell);
    if (!home) {
      return; // not drawn yet (a long notebook draws cells as they scroll into view)
    }
    let chip = home.querySelector(`:scope > .${CHIP_CLASS}`) as HTMLElement | null;
    if (!chip) {
      chip = document.createElement('button');
      chip.className = CHIP_CLASS;
      home.insertBefore(chip, home.firstChild);
    }
    paint(chip, shown[index], names);
    const error = errors.get(numbers.get(cell) ?? 0);
    chip.classList.toggle('kalec-chip-error', error !== undefined);
    if (error !== undefined) {
      chip.title = `${error} (click to change the tags)`;
      chip.setAttribute('aria-invalid', 'true');
    } else {
      chip.removeAttribute('aria-invalid');
    }
    const target = cell.model.getMetadata('notebook_path');
    if (shown[index].kind === 'notebook') {
      const path = typeof target === 'string' ? target : '';
      chip.textContent = `${shown[index].label}${path ? ` (${path})` : ' (no notebook_path)'}`;
      chip.title = path ? `open ${path}; double-click to change the reference` : 'set the notebook it stands for';
    }
    chip.onclick = event => {
      event.stopPropagation();
      if (shown[index].kind === 'notebook' && typeof target === 'string' && target) {
        openNotebook(referencedPath(panel.context.path, target));
      } else {
        openEditor(cell, names, onEdited);
      }
    };
    chip.ondblclick = event => {
      event.stopPropagation();
      openEditor(cell, names, onEdited);
    };
  });
}

/** The cell's header (above its input), where the chip and its editor go; null until drawn. */
function chipHome(cell: Cell): HTMLElement | null {
  return cell.node.querySelector(':scope > .jp-CellHeader') as HTMLElement | null;
}

/** True when a drawn code cell has no chip yet: the notebook drew cells since the last pass. */
export function chipsMissing(panel: NotebookPanel): boolean {
  if (!kalecEnabled(panel)) {
    return false;
  }
  return codeCells(panel).some(cell => {
    const home = chipHome(cell);
    return home !== null && !home.querySelector(`:scope > .${CHIP_CLASS}`);
  });
}

function paint(chip: HTMLElement, shown: Chip, names: string[]): void {
  chip.textContent = shown.kind === 'continues' ? `↳ ${shown.label}` : shown.label;
  chip.title = shown.kind === 'continues' ? 'continues the step above: click to tag' : 'click to change';
  chip.dataset.kind = shown.kind;
  chip.style.background = shown.kind === 'step' && shown.step ? colourOf(names, shown.step) : '';
  chip.style.color = shown.kind === 'continues' && shown.step ? colourOf(names, shown.step) : '';
}

function field(label: string, input: HTMLElement): HTMLElement {
  const row = document.createElement('label');
  row.textContent = label;
  row.appendChild(input);
  return row;
}

function group(label: string, content: HTMLElement): HTMLElement {
  const row = document.createElement('div');
  row.className = 'kalec-field-group';
  const title = document.createElement('span');
  title.textContent = label;
  row.append(title, content);
  return row;
}

function openEditor(cell: Cell, names: string[], onEdited: () => void): void {
  const home = chipHome(cell);
  if (!home) {
    return;
  }
  home.querySelector(`:scope > .${EDITOR_CLASS}`)?.remove();
  const tags = parseTags(cellTags(cell));
  const editor = document.createElement('form');
  editor.className = EDITOR_CLASS;

  const role = document.createElement('select');
  role.name = 'role';
  for (const value of ['step', ...ROLES, 'notebook']) {
    const option = document.createElement('option');
    option.value = value;
    option.textContent = value;
    role.appendChild(option);
  }
  role.value = tags.reference !== null ? 'notebook' : tags.role ?? 'step';

  const listId = `kalec-steps-${Math.random().toString(36).slice(2)}`;
  const list = document.createElement('datalist');
  list.id = listId;
  for (const name of names) {
    const option = document.createElement('option');
    option.value = name;
    list.appendChild(option);
  }
  const step = document.createElement('input');
  step.name = 'step';
  step.setAttribute('list', listId);
  step.placeholder = 'empty: continue the step above';
  step.value = tags.reference ?? tags.steps[0] ?? '';
  const notebookPath = document.createElement('input');
  notebookPath.name = 'notebook_path';
  notebookPath.placeholder = 'e.g. prepare.ipynb, from this notebook\'s folder';
  const saved = cell.model.getMetadata('notebook_path');
  notebookPath.value = typeof saved === 'string' ? saved : '';
  const pathRow = field('notebook', notebookPath);
  // depends on: a box per step of the notebook (and per name the tags hold already)
  const prev = document.createElement('div');
  prev.className = 'kalec-prev-picker';
  prev.setAttribute('role', 'group');
  for (const name of [...new Set([...names, ...tags.prev])]) {
    const option = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.name = 'prev';
    box.value = name;
    box.checked = tags.prev.includes(name);
    option.append(box, ` ${name}`);
    prev.appendChild(option);
  }
  if (!prev.childElementCount) {
    prev.textContent = 'no other step yet';
  }
  const others = document.createElement('input');
  others.name = 'others';
  others.placeholder = 'other tags, e.g. limit:cpu:2 cache:disabled';
  others.value = tags.others.join(' ');
  const problem = document.createElement('div');
  problem.className = 'kalec-problem';
  const save = document.createElement('button');
  save.type = 'submit';
  save.textContent = 'Apply';
  const cancel = document.createElement('button');
  cancel.type = 'button';
  cancel.textContent = 'Cancel';
  cancel.onclick = () => editor.remove();

  const showStepFields = () => {
    const isStep = role.value === 'step';
    const isReference = role.value === 'notebook';
    step.disabled = !isStep && !isReference;
    notebookPath.disabled = !isReference;
    pathRow.hidden = !isReference;
    step.placeholder = isReference ? 'a name for the notebook\'s steps, e.g. prepare' : 'empty: continue the step above';
    for (const box of Array.from(prev.querySelectorAll('input'))) {
      box.disabled = !isStep || box.value === step.value.trim();
    }
  };
  role.onchange = showStepFields;
  step.oninput = showStepFields;
  showStepFields();

  editor.append(field('kind', role), field('name', step), pathRow, list, group('depends on', prev), field('other tags', others), problem, save, cancel);
  editor.onsubmit = event => {
    event.preventDefault();
    if (role.value === 'notebook') {
      const found = referenceProblem(step.value.trim(), notebookPath.value);
      if (found) {
        problem.textContent = found;
        return;
      }
      const kept = others.value.split(/\s+/).filter(Boolean);
      cell.model.setMetadata('tags', [`notebook:${step.value.trim()}`, ...kept]);
      cell.model.setMetadata('notebook_path', notebookPath.value.trim());
      editor.remove();
      onEdited();
      return;
    }
    if (tags.reference !== null) {
      cell.model.deleteMetadata('notebook_path'); // no longer a reference
    }
    const edit: Edit = {
      step: step.value.trim(),
      role: role.value === 'step' ? null : (role.value as Role),
      prev: Array.from(prev.querySelectorAll('input'))
        .filter(box => box.checked && !box.disabled)
        .map(box => box.value),
      others: others.value.split(/\s+/).filter(Boolean)
    };
    const found = editProblem(edit);
    if (found) {
      problem.textContent = found;
      return;
    }
    cell.model.setMetadata('tags', writeTags(edit));
    editor.remove();
    onEdited();
  };
  editor.onkeydown = event => {
    event.stopPropagation(); // keep notebook shortcuts out of the editor's fields
    if (event.key === 'Escape') {
      editor.remove();
    }
  };
  const chip = home.querySelector(`:scope > .${CHIP_CLASS}`);
  home.insertBefore(editor, chip ? chip.nextSibling : home.firstChild);
  step.focus();
}
