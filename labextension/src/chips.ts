/**
 * The chip above each code cell: its step in the step's colour, or its role; cells that
 * continue the step above show it quietly. Clicking opens a small editor that writes the cell's
 * `tags` metadata (step name with completion, depends-on, the other kalec tags).
 */

import { Cell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';

import { Chip, Edit, Role, chips, editProblem, parseTags, stepColour, stepNames, writeTags } from './tags';

const CHIP_CLASS = 'kalec-chip';
const EDITOR_CLASS = 'kalec-chip-editor';
const ROLES: Role[] = ['imports', 'functions', 'parameters', 'metrics', 'skip'];

function cellTags(cell: Cell): unknown[] {
  const tags = cell.model.getMetadata('tags');
  return Array.isArray(tags) ? tags : [];
}

function codeCells(panel: NotebookPanel): Cell[] {
  return panel.content.widgets.filter(cell => cell.model.type === 'code');
}

/** Draw (again) the chips of every code cell of the notebook. */
export function renderChips(panel: NotebookPanel, onEdited: () => void): void {
  const cells = codeCells(panel);
  const parsed = cells.map(cell => parseTags(cellTags(cell)));
  const shown = chips(parsed);
  const names = stepNames(parsed);
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
    paint(chip, shown[index]);
    chip.onclick = event => {
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
  return codeCells(panel).some(cell => {
    const home = chipHome(cell);
    return home !== null && !home.querySelector(`:scope > .${CHIP_CLASS}`);
  });
}

function paint(chip: HTMLElement, shown: Chip): void {
  chip.textContent = shown.kind === 'continues' ? `↳ ${shown.label}` : shown.label;
  chip.title = shown.kind === 'continues' ? 'continues the step above: click to tag' : 'click to change';
  chip.dataset.kind = shown.kind;
  chip.style.background = shown.kind === 'step' && shown.step ? stepColour(shown.step) : '';
  chip.style.color = shown.kind === 'continues' && shown.step ? stepColour(shown.step) : '';
}

function field(label: string, input: HTMLElement): HTMLElement {
  const row = document.createElement('label');
  row.textContent = label;
  row.appendChild(input);
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
  for (const value of ['step', ...ROLES]) {
    const option = document.createElement('option');
    option.value = value;
    option.textContent = value;
    role.appendChild(option);
  }
  role.value = tags.role ?? 'step';

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
  step.value = tags.steps[0] ?? '';
  const prev = document.createElement('input');
  prev.name = 'prev';
  prev.placeholder = 'steps it runs after, e.g. load, clean';
  prev.value = tags.prev.join(', ');
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
    step.disabled = prev.disabled = !isStep;
  };
  role.onchange = showStepFields;
  showStepFields();

  editor.append(field('kind', role), field('step', step), list, field('depends on', prev), field('other tags', others), problem, save, cancel);
  editor.onsubmit = event => {
    event.preventDefault();
    const edit: Edit = {
      step: step.value.trim(),
      role: role.value === 'step' ? null : (role.value as Role),
      prev: prev.value.split(/[,;\s]+/).filter(Boolean),
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
