import { chips, editProblem, parseTags, referenceProblem, stepNames, writeTags } from '../src/tags';

describe('parseTags', () => {
  it('reads steps, roles, prev and keeps the rest in order', () => {
    const tags = parseTags(['block:train;tune', 'prev:load', 'limit:cpu:2', 'hide-input', 'cache:disabled']);
    expect(tags.steps).toEqual(['train', 'tune']);
    expect(tags.prev).toEqual(['load']);
    expect(tags.role).toBeNull();
    expect(tags.others).toEqual(['limit:cpu:2', 'hide-input', 'cache:disabled']);
  });

  it("reads Kale's step: and the roles under both spellings", () => {
    expect(parseTags(['step:load']).steps).toEqual(['load']);
    expect(parseTags(['pipeline-parameters']).role).toBe('parameters');
    expect(parseTags(['parameters']).role).toBe('parameters');
    expect(parseTags(['pipeline-metrics']).role).toBe('metrics');
    expect(parseTags(['skip']).role).toBe('skip');
  });

  it('ignores what is not a string and an empty block: (Kale writes it to continue)', () => {
    const tags = parseTags([3, null, 'block:']);
    expect(tags.steps).toEqual([]);
    expect(tags.others).toEqual([]);
    expect(parseTags(undefined).steps).toEqual([]);
  });
});

describe('writeTags', () => {
  it('writes the step first, then prev, then the tags it does not own', () => {
    const edit = { step: 'train', role: null, prev: ['load', 'clean'], others: ['hide-input', 'limit:cpu:2'] };
    expect(writeTags(edit)).toEqual(['block:train', 'prev:load', 'prev:clean', 'hide-input', 'limit:cpu:2']);
  });

  it('round-trips a cell through parse and write', () => {
    const original = ['block:train', 'prev:load', 'timeout:15m'];
    const parsed = parseTags(original);
    expect(writeTags({ step: parsed.steps[0], role: parsed.role, prev: parsed.prev, others: parsed.others })).toEqual(original);
  });

  it('writes a role without step or prev, and nothing for a continuing cell', () => {
    expect(writeTags({ step: 'x', role: 'imports', prev: ['a'], others: [] })).toEqual(['imports']);
    expect(writeTags({ step: '', role: null, prev: [], others: [] })).toEqual([]);
  });

  it('refuses names kalec would refuse', () => {
    expect(editProblem({ step: 'bad name', role: null, prev: [], others: [] })).toMatch(/not a step name/);
    expect(editProblem({ step: 'a', role: null, prev: ['a'], others: [] })).toMatch(/itself/);
    expect(editProblem({ step: 'a', role: null, prev: ['b;c'], others: [] })).toMatch(/depends-on/);
    expect(editProblem({ step: 'train-2', role: null, prev: ['load_1'], others: [] })).toBeNull();
  });
});

describe('chips', () => {
  it('follows kalec: untagged cells continue the step or prelude above; roles stand alone', () => {
    const cells = [
      parseTags([]),
      parseTags(['imports']),
      parseTags([]),
      parseTags(['pipeline-parameters']),
      parseTags(['block:load']),
      parseTags([]),
      parseTags(['skip']),
      parseTags([]),
      parseTags(['block:train', 'prev:load'])
    ];
    expect(chips(cells).map(c => [c.kind, c.label])).toEqual([
      ['continues', 'main'],
      ['imports', 'imports'],
      ['continues', 'imports'],
      ['parameters', 'parameters'],
      ['step', 'load'],
      ['continues', 'load'],
      ['skip', 'skip'],
      ['continues', 'load'],
      ['step', 'train']
    ]);
  });

  it('lists step names once, in order', () => {
    const cells = [parseTags(['block:a']), parseTags(['block:b;a']), parseTags(['block:c'])];
    expect(stepNames(cells)).toEqual(['a', 'b', 'c']);
  });
});

describe('notebook references', () => {
  it('reads notebook:NAME as a reference, which no cell below continues', () => {
    const cells = [parseTags(['block:load']), parseTags(['notebook:prepare']), parseTags([])];
    expect(cells[1].reference).toBe('prepare');
    expect(chips(cells).map(c => c.kind)).toEqual(['step', 'notebook', 'continues']);
    expect(chips(cells)[2].label).toBe('main');
  });

  it('checks a reference as Kale 2.3 writes it', () => {
    expect(referenceProblem('prepare', 'prepare.ipynb')).toBeNull();
    expect(referenceProblem('pre pare', 'prepare.ipynb')).toContain('not a reference name');
    expect(referenceProblem('prepare', 'prepare.py')).toContain('.ipynb');
  });
});
