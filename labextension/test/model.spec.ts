import { CheckAnswer } from '../src/answers';
import { runView } from '../src/runState';
import { NotebookModel, PALETTE, Poller, defaultSpace, deployError, palette, parameterValue, runLink, withValues } from '../src/model';

/** A check's answer with nothing in it, as the server sends it for an empty notebook. */
const EMPTY_CHECK: CheckAnswer = {
  notebook: 'a.ipynb',
  pipeline: 'p',
  ok: true,
  parameters: [],
  metrics: [],
  prelude: [],
  search: null,
  notebooks: [],
  steps: [],
  diagnostics: []
};

describe('NotebookModel', () => {
  it("leaves a running run's status line to the run when a check answers", () => {
    const model = new NotebookModel('a.ipynb');
    const said = { text: '4 steps, no errors', kind: 'info' as const };
    expect(model.checkStatus(said)).toEqual({ status: said });
    model.update({ run: runView(['a', 'b'], { state: 'running', steps: [] }) });
    expect(model.checkStatus(said)).toEqual({});
    model.update({ run: runView(['a', 'b'], { state: 'ok', steps: [] }) });
    expect(model.checkStatus(said)).toEqual({ status: said });
  });

  it('drops the answer to a request the user has moved past', () => {
    const model = new NotebookModel('a.ipynb');
    const first = model.begin('check');
    const second = model.begin('check');
    expect(model.isCurrent('check', first)).toBe(false);
    expect(model.isCurrent('check', second)).toBe(true);
    // requests of another kind do not count
    model.begin('graph');
    expect(model.isCurrent('check', second)).toBe(true);
  });

  it('keeps each notebook apart: an update of one is heard only by its own listeners', () => {
    const a = new NotebookModel('a.ipynb');
    const b = new NotebookModel('b.ipynb');
    const heard: string[] = [];
    a.changed.connect(() => heard.push('a'));
    b.changed.connect(() => heard.push('b'));
    a.update({ status: { text: '3 steps, no errors', kind: 'info' } });
    expect(heard).toEqual(['a']);
    expect(b.status.kind).toBe('empty');
  });

  it("marks the cells the check's errors point at, in its own notebook only", () => {
    const model = new NotebookModel('a.ipynb');
    model.update({
      check: {
        ...EMPTY_CHECK,
        ok: false,
        diagnostics: [
          { code: 'K306', severity: 'error', message: 'prev:x names no step', cell: 4, line: null, hint: null },
          { code: 'K609', severity: 'note', message: 'added', cell: 5, line: 1, hint: null },
          { code: 'K605', severity: 'error', message: 'in b', cell: 2, line: 1, hint: null, notebook: 'b.ipynb' }
        ]
      }
    });
    expect([...model.errorCells().keys()]).toEqual([4]);
    expect(model.errorCells().get(4)).toContain('K306');
  });
});

describe('palette', () => {
  it('gives neighbouring steps different colours, in step order', () => {
    const names = Array.from({ length: 25 }, (_, i) => `step${i}`);
    const colours = palette(names);
    for (let i = 1; i < names.length; i++) {
      expect(colours.get(names[i])).not.toBe(colours.get(names[i - 1]));
    }
    expect(colours.get('step0')).toBe(PALETTE[0]);
    expect(new Set(names.slice(0, PALETTE.length).map(n => colours.get(n))).size).toBe(PALETTE.length);
  });
});

describe('Poller', () => {
  it('survives failed requests, waiting longer after each, and stops when done', async () => {
    const waits: number[] = [];
    const failures: number[] = [];
    let calls = 0;
    const poller = new Poller(
      async () => {
        calls += 1;
        if (calls <= 3) {
          throw new Error('503');
        }
        return calls === 5;
      },
      failed => failures.push(failed),
      700,
      4000,
      async ms => {
        waits.push(ms);
      }
    );
    await poller.start();
    expect(calls).toBe(5);
    expect(failures).toEqual([1, 2, 3]);
    expect(waits).toEqual([1400, 2800, 4000, 700]);
  });

  it('ends when stopped', async () => {
    let calls = 0;
    const poller = new Poller(
      async () => {
        calls += 1;
        poller.stop();
        return false;
      },
      () => undefined,
      10,
      10,
      async () => undefined
    );
    await poller.start();
    expect(calls).toBe(1);
    expect(poller.isStopped).toBe(true);
  });
});

describe('deploy words', () => {
  it('turns a connection error into words, and links to the run', () => {
    expect(deployError('http://kfp:8080', 'HTTPConnectionPool: Max retries exceeded (Connection refused)')).toBe(
      'cannot reach Kubeflow Pipelines at http://kfp:8080: the connection was refused (is the server running, on that port?)'
    );
    expect(deployError('http://kfp', 'the server answered 403 Forbidden')).toBe('the server answered 403 Forbidden');
    expect(runLink('http://kfp:8080/', 'r-1')).toBe('http://kfp:8080/#/runs/details/r-1');
  });

  it("reads a run parameter as its declared type", () => {
    expect(parameterValue('int', '12')).toEqual({ value: 12 });
    expect(parameterValue('int', '1.5').error).toBe('a whole number');
    expect(parameterValue('float', '0.25')).toEqual({ value: 0.25 });
    expect(parameterValue('bool', 'true')).toEqual({ value: true });
    expect(parameterValue('list', '[1, 2]')).toEqual({ value: [1, 2] });
    expect(parameterValue('dict', '[1]').error).toBe('a JSON object');
    expect(parameterValue('str', ' a b ')).toEqual({ value: ' a b ' });
  });
});

describe('tune helpers', () => {
  it('writes the best values into the parameters cell, keeping the rest', () => {
    const source = 'X = 0  # searched\nRATE: float = 0.1\nNAME = "a"\nFLAG = False\nOTHER = [1]';
    expect(withValues(source, { X: 2, RATE: 0.25, NAME: 'b"c', FLAG: true })).toBe(
      'X = 2  # searched\nRATE: float = 0.25\nNAME = "b\\"c"\nFLAG = True\nOTHER = [1]'
    );
  });

  it('offers a space to start from: numbers over a range, the first metric', () => {
    const at = { cell: 2, line: 1 };
    const space = defaultSpace({
      ...EMPTY_CHECK,
      parameters: [
        { name: 'N', type: 'int', default: 3, ...at },
        { name: 'LR', type: 'float', default: 0.01, ...at },
        { name: 'KIND', type: 'str', default: 'rbf', ...at }
      ],
      metrics: [{ name: 'accuracy', step: 'train', cell: 5, line: 3 }]
    }) as { parameters: { name: string; parameterType: string }[]; objective: { objectiveMetricName: string } };
    expect(space.parameters.map(p => p.parameterType)).toEqual(['int', 'double', 'categorical']);
    expect(space.objective.objectiveMetricName).toBe('accuracy');
  });
});
