import { clusterStepStates, graphStates, progress, runView } from '../src/runState';

describe('runView', () => {
  it('shows the checked steps waiting before the run reports', () => {
    const view = runView(['load', 'train'], null);
    expect(view.state).toBe('starting');
    expect(view.ended).toBe(false);
    expect(view.steps.map(s => s.state)).toEqual(['waiting', 'waiting']);
  });

  it("turns the runner's words into the panel's", () => {
    const view = runView(['load', 'train', 'report'], {
      state: 'running',
      steps: [
        { name: 'load', status: 'cached', seconds: 0 },
        { name: 'train', status: 'running', seconds: 3.2, output: ['epoch 1'] },
        { name: 'report', status: 'waiting' }
      ]
    });
    expect(view.steps.map(s => s.state)).toEqual(['cached', 'running', 'waiting']);
    expect(view.steps[1].output).toEqual(['epoch 1']);
    expect(progress(view)).toEqual({ finished: 1, total: 3 });
  });

  it('ends with the summary, and says where a failure was', () => {
    const view = runView(['a', 'b', 'c'], {
      state: 'failed',
      summary: ['step  status', 'a     ran'],
      steps: [
        { name: 'a', status: 'ran' },
        { name: 'b', status: 'failed', error: 'ZeroDivisionError: division by zero', cell: 4 },
        { name: 'c', status: 'waiting' }
      ]
    });
    expect(view.ended).toBe(true);
    expect(view.steps.map(s => s.state)).toEqual(['done', 'failed', 'skipped']);
    expect(view.message).toBe('step b failed in cell 4: ZeroDivisionError: division by zero');
    expect(view.summary).toBe('step  status\na     ran');
    expect(progress(view)).toEqual({ finished: 3, total: 3 });
  });

  it('marks the steps a cancel stopped, and shows a refusal', () => {
    const cancelled = runView(['a', 'b'], { state: 'cancelled', steps: [{ name: 'a', status: 'running' }] });
    expect(cancelled.steps.map(s => s.state)).toEqual(['stopped', 'stopped']);
    const refused = runView(['a'], { state: 'refused', steps: [], errors: 'nb.ipynb: 1 error' });
    expect(refused.message).toBe('nb.ipynb: 1 error');
  });
});

describe('why a step ran', () => {
  it('carries the runner note and where cached values came from', () => {
    const view = runView(['load', 'train'], {
      state: 'ok',
      steps: [
        { name: 'load', status: 'ran', note: 'data/train.csv changed, read at run time' },
        { name: 'train', status: 'cached', source: 'cache' }
      ]
    });
    expect(view.steps[0].note).toBe('data/train.csv changed, read at run time');
    expect(view.steps[1].source).toBe('cache');
    expect(view.steps[1].note).toBeNull();
  });
});

describe('graphStates', () => {
  const check = { steps: [{ name: 'load' }, { name: 'prep/clean' }, { name: 'fit' }] };
  const local = runView(['load', 'prep/clean', 'fit'], {
    state: 'running',
    steps: [{ name: 'load', status: 'ran' }, { name: 'prep/clean', status: 'running' }]
  });
  const cluster = {
    steps: [
      { name: 'load', state: 'SUCCEEDED' },
      { name: 'clean', state: 'FAILED' },
      { name: 'fit', state: 'CANCELED' }
    ]
  };

  it("shows the local run's states when the last run started here", () => {
    const states = graphStates({ graphRun: 'local', run: local, clusterRun: cluster, check });
    expect([...states.entries()]).toEqual([
      ['load', 'done'],
      ['prep/clean', 'running'],
      ['fit', 'waiting']
    ]);
  });

  it("shows the cluster run's states in the panel's words, a referenced step by its task's name", () => {
    const states = graphStates({ graphRun: 'cluster', run: local, clusterRun: cluster, check });
    expect([...states.entries()]).toEqual([
      ['load', 'done'],
      ['prep/clean', 'failed'],
      ['fit', 'stopped']
    ]);
    expect(clusterStepStates(null, ['load']).size).toBe(0);
  });
});
