/**
 * The cell tags kalec reads, as the chip above each cell shows and edits them.
 *
 * Reading is deliberately shallow: the server's compiler is the judge of every tag (its errors
 * come back as diagnostics). Here a cell's tags become what the chip needs, the step or role,
 * its `prev:` names and the rest, and an edit becomes a new tag list that keeps every tag the
 * editor does not own (other tools' tags, `limit:`, `cache:` ...) in its place.
 */

export type Role = 'imports' | 'functions' | 'skip' | 'parameters' | 'metrics';

export interface CellTags {
  /** Names from `block:` or `step:` tags; empty when the cell names no step. */
  steps: string[];
  /** The cell's role tag, when it has one instead of a step. */
  role: Role | null;
  /** Names from `prev:` tags. */
  prev: string[];
  /** Every other tag, kept as written and in order. */
  others: string[];
  /** `notebook:NAME`: the cell stands for another notebook (its path is in the metadata). */
  reference: string | null;
}

const ROLE_OF: Record<string, Role> = {
  imports: 'imports',
  functions: 'functions',
  skip: 'skip',
  'pipeline-parameters': 'parameters',
  parameters: 'parameters',
  'pipeline-metrics': 'metrics'
};

const TAG_OF: Record<Role, string> = {
  imports: 'imports',
  functions: 'functions',
  skip: 'skip',
  parameters: 'pipeline-parameters',
  metrics: 'pipeline-metrics'
};

/** A step name kalec accepts: letters, digits, '-' and '_', not starting with '-'. */
export const STEP_NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;

function names(value: string): string[] {
  return value
    .split(';')
    .map(name => name.trim())
    .filter(name => name.length > 0);
}

export function parseTags(tags: readonly unknown[] | undefined | null): CellTags {
  const parsed: CellTags = { steps: [], role: null, prev: [], others: [], reference: null };
  for (const raw of tags ?? []) {
    if (typeof raw !== 'string') {
      continue;
    }
    const tag = raw.trim();
    if (tag.startsWith('block:') || tag.startsWith('step:')) {
      parsed.steps.push(...names(tag.slice(tag.indexOf(':') + 1)));
    } else if (tag.startsWith('notebook:') && parsed.reference === null) {
      parsed.reference = tag.slice('notebook:'.length).trim();
    } else if (tag.startsWith('prev:')) {
      parsed.prev.push(...names(tag.slice(5)));
    } else if (tag in ROLE_OF && parsed.role === null) {
      parsed.role = ROLE_OF[tag];
    } else {
      parsed.others.push(raw);
    }
  }
  return parsed;
}

export interface Edit {
  /** The step the cell starts or belongs to; empty: the cell continues the step above. */
  step: string;
  /** A role instead of a step, or null. */
  role: Role | null;
  prev: string[];
  /** The other kalec tags the editor shows (`cache:disabled`, `limit:cpu:2` ...). */
  others: string[];
}

/** Why a reference cannot be written (Kale 2.3's format: `notebook:NAME`, `notebook_path`). */
export function referenceProblem(name: string, path: string): string | null {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_-]*$/.test(name)) {
    return `"${name}" is not a reference name: use letters, digits, '-' and '_'`;
  }
  if (!path.trim().endsWith('.ipynb')) {
    return 'the path of the notebook, relative to this one, e.g. prepare.ipynb';
  }
  if (path.trim().startsWith('/')) {
    return 'a path relative to this notebook\'s folder';
  }
  return null;
}

/** Why an edit cannot be written, or null when it can. */
export function editProblem(edit: Edit): string | null {
  if (edit.role === null && edit.step && !STEP_NAME.test(edit.step)) {
    return `"${edit.step}" is not a step name: use letters, digits, '-' and '_'`;
  }
  const bad = edit.prev.find(name => !STEP_NAME.test(name));
  if (bad !== undefined) {
    return `"${bad}" in depends-on is not a step name`;
  }
  if (edit.role === null && edit.step && edit.prev.includes(edit.step)) {
    return 'a step cannot depend on itself';
  }
  return null;
}

/**
 * The tag list an edit gives: the role or `block:` tag first, then `prev:` tags, then the
 * other tags. Tags that are neither kalec's step, role nor prev tags are kept as they were.
 */
export function writeTags(edit: Edit): string[] {
  const tags: string[] = [];
  if (edit.role !== null) {
    tags.push(TAG_OF[edit.role]);
  } else if (edit.step) {
    tags.push(`block:${edit.step}`);
  }
  if (edit.role === null) {
    for (const name of edit.prev) {
      tags.push(`prev:${name}`);
    }
  }
  for (const tag of edit.others) {
    const trimmed = tag.trim();
    if (trimmed && !tags.includes(trimmed)) {
      tags.push(trimmed);
    }
  }
  return tags;
}

/** What the chip above a code cell says, given the cells above it. */
export interface Chip {
  label: string;
  kind: 'step' | 'continues' | 'notebook' | Role;
  step: string | null;
}

/** The step kalec gives untagged cells that come before any step tag. */
export const IMPLICIT_STEP = 'main';

/**
 * The chip of every code cell, in order, as kalec groups cells: a cell naming a step shows it;
 * a cell without kalec tags continues what the code cell above it belonged to (a step, or the
 * imports or functions prelude), shown quietly; parameters, metrics and skip cells stand alone.
 */
export function chips(cells: readonly CellTags[]): Chip[] {
  let current: { step: string | null; role: Role | null } | null = null;
  return cells.map(cell => {
    if (cell.reference !== null) {
      current = null; // a reference is no step the next cell could continue
      return { label: `notebook: ${cell.reference}`, kind: 'notebook', step: null };
    }
    if (cell.role !== null) {
      if (cell.role === 'imports' || cell.role === 'functions') {
        current = { step: null, role: cell.role };
      }
      return { label: cell.role, kind: cell.role, step: null };
    }
    if (cell.steps.length > 0) {
      current = { step: cell.steps[0], role: null };
      return { label: cell.steps.join(', '), kind: 'step', step: cell.steps[0] };
    }
    if (current === null) {
      current = { step: IMPLICIT_STEP, role: null };
    }
    const label = current.step ?? (current.role as string);
    return { label, kind: 'continues', step: current.step };
  });
}

/** The step names the notebook uses, for completion in the editor. */
export function stepNames(cells: readonly CellTags[]): string[] {
  const found: string[] = [];
  for (const cell of cells) {
    for (const name of cell.steps) {
      if (!found.includes(name)) {
        found.push(name);
      }
    }
  }
  return found;
}
