/**
 * kalec in JupyterLab: a side panel that follows the active notebook, a chip above each code
 * cell naming its step, a "Pipeline" button on every notebook's toolbar, the pipeline graph in
 * a main-area tab, and commands ("Kalec: Check pipeline" ...) in the command palette, the
 * Pipeline menu and keyboard shortcuts (declared in schema/plugin.json with the settings).
 */

import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, ToolbarButton } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { Connection, KalecApi } from './api';
import { chipsMissing, openReferenced, renderChips, setNotebookOpener } from './chips';
import { GraphView } from './graph';
import { palette } from './model';
import { KalecPanel } from './panel';
import { graphStates } from './runState';

const PLUGIN_ID = 'kalec-labextension:plugin';
const CATEGORY = 'Kalec pipeline';

export const COMMANDS = {
  openPanel: 'kalec:open-panel',
  check: 'kalec:check',
  run: 'kalec:run',
  build: 'kalec:build',
  deploy: 'kalec:deploy',
  openGraph: 'kalec:open-graph'
};

function watchChips(panel: NotebookPanel, onEdited: () => void): void {
  let scheduled = false;
  const redraw = () => {
    if (scheduled) {
      return;
    }
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      if (!panel.isDisposed) {
        renderChips(panel, onEdited);
      }
    });
  };
  const watchCells = () => {
    const model = panel.content.model;
    if (!model) {
      return;
    }
    for (const cell of panel.content.widgets) {
      cell.model.metadataChanged.connect(redraw);
    }
    redraw();
  };
  void panel.context.ready.then(() => {
    watchCells();
    panel.content.model?.cells.changed.connect(() => requestAnimationFrame(watchCells));
    // cells are drawn lazily, as they scroll into view: give the new ones their chips
    const observer = new MutationObserver(() => {
      if (chipsMissing(panel)) {
        redraw();
      }
    });
    observer.observe(panel.content.node, { childList: true, subtree: true });
    panel.disposed.connect(() => observer.disconnect());
  });
}

/** The step the notebook's active cell belongs to, by the last check. */
function activeStep(panel: KalecPanel): string | null {
  const notebook = panel.currentNotebook;
  const check = panel.current?.check ?? panel.current?.lastGood;
  if (!notebook || !check) {
    return null;
  }
  const number = notebook.content.activeCellIndex + 1;
  return check.steps.find(s => !s.notebook && s.cells.includes(number))?.name ?? null;
}

/** The notebook toolbar's run buttons, last first (JupyterLab 4's names), and where they end
 * in its default toolbar when they cannot be found by name. */
const RUN_BUTTONS = ['restart-and-run', 'restart', 'interrupt', 'run'];
const RUN_BUTTONS_END = 9;

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Tag cells into pipeline steps; check, run, build and deploy with kalec.',
  autoStart: true,
  requires: [INotebookTracker, ILabShell],
  optional: [ISettingRegistry, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    shell: ILabShell,
    registry: ISettingRegistry | null,
    commandPalette: ICommandPalette | null
  ) => {
    const connection: Connection = { serverUrl: '', token: '' };
    const api = new KalecApi(() => connection);
    setNotebookOpener(path => void app.commands.execute('docmanager:open', { path }));
    const panel = new KalecPanel(api);
    if (registry) {
      void registry.load(PLUGIN_ID).then(settings => {
        const read = () => {
          const text = (key: string) => String(settings.get(key).composite ?? '').trim();
          connection.serverUrl = text('serverUrl');
          connection.token = String(settings.get('token').composite ?? '');
          panel.defaults.kfpUrl = text('kfpUrl');
          panel.defaults.target = text('target') || 'kfp-py';
          panel.defaults.experiment = text('experiment');
        };
        read();
        settings.changed.connect(read);
      });
    }
    panel.title.iconClass = 'kalec-panel-icon';
    shell.add(panel, 'right', { rank: 600 });

    // the graph in a main-area tab, following the current notebook
    let graph: MainAreaWidget<GraphView> | null = null;
    const showGraph = () => {
      const model = panel.current;
      if (!graph || graph.isDisposed) {
        return;
      }
      const check = model?.check?.ok ? model.check : model?.lastGood;
      const stale = model?.check && !model.check.ok && model.lastGood ? 'the notebook has errors: this is its last version without errors' : '';
      graph.title.label = model ? `Pipeline: ${model.path.split('/').pop()}` : 'Pipeline graph';
      graph.content.draw(model?.graphSvg ?? null, palette((check?.steps ?? []).map(s => s.name)), model ? stale : 'open a notebook to see its pipeline');
      graph.content.highlight(activeStep(panel));
      graph.content.showStates(model ? graphStates(model) : new Map());
    };
    const openGraph = () => {
      if (!graph || graph.isDisposed) {
        const view = new GraphView({
          onStep: (name, cells) => {
            const notebook = panel.currentNotebook;
            const check = panel.current?.check ?? panel.current?.lastGood;
            const inside = check?.steps.find(s => s.name === name)?.notebook;
            if (notebook && inside) {
              openReferenced(notebook.context.path, inside); // a referenced notebook's step
            } else if (notebook && cells.length) {
              shell.activateById(notebook.id);
              panel.reveal(cells[0], null);
            }
          }
        });
        const tab = new MainAreaWidget({ content: view });
        tab.id = 'kalec-graph';
        tab.addClass('kalec-graph-tab');
        tab.title.closable = true;
        shell.add(tab, 'main', { mode: 'split-right' });
        graph = tab;
      }
      shell.activateById('kalec-graph');
      showGraph();
      requestAnimationFrame(() => graph?.content.fit());
    };
    panel.openGraph.connect(openGraph);
    panel.changed.connect(showGraph);
    tracker.activeCellChanged.connect(() => graph?.content.highlight(activeStep(panel)));

    const hasNotebook = () => tracker.currentWidget !== null;
    const focusPanel = () => {
      panel.setNotebook(tracker.currentWidget);
      shell.activateById(panel.id);
    };
    app.commands.addCommand(COMMANDS.openPanel, {
      label: 'Kalec: Show pipeline panel',
      caption: 'the steps kalec makes of this notebook',
      execute: focusPanel
    });
    // the actions on the current notebook: the panel shows it, then does the action
    const onNotebook: [string, string, string, () => unknown][] = [
      [COMMANDS.check, 'Kalec: Check pipeline', 'compile the notebook and show its steps and problems', () => panel.check()],
      [COMMANDS.run, 'Kalec: Run pipeline locally', 'run the pipeline on this machine, with the step cache', () => panel.startRun()],
      [COMMANDS.build, 'Kalec: Build pipeline', 'download the pipeline for the chosen target', () => panel.buildPipeline()]
    ];
    for (const [id, label, caption, action] of onNotebook) {
      app.commands.addCommand(id, {
        label,
        caption,
        isEnabled: hasNotebook,
        execute: () => {
          focusPanel();
          return action();
        }
      });
    }
    app.commands.addCommand(COMMANDS.deploy, {
      label: 'Kalec: Deploy pipeline to Kubeflow Pipelines',
      caption: 'upload the pipeline, optionally start a run',
      isEnabled: hasNotebook,
      execute: () => {
        focusPanel();
        const box = panel.node.querySelector('.kalec-deploy-box') as HTMLDetailsElement | null;
        if (box) {
          box.open = true;
          (box.querySelector('input[name=host]') as HTMLInputElement | null)?.focus();
          void panel.deploySection.loadExperiments();
        }
      }
    });
    app.commands.addCommand(COMMANDS.openGraph, {
      label: 'Kalec: Open pipeline graph',
      caption: 'the step graph in a tab: pan, zoom, click a step to select its cells',
      execute: () => {
        panel.setNotebook(tracker.currentWidget ?? panel.currentNotebook);
        openGraph();
      }
    });
    if (commandPalette) {
      for (const command of Object.values(COMMANDS)) {
        commandPalette.addItem({ command, category: CATEGORY });
      }
    }

    tracker.currentChanged.connect((_, notebook) => {
      if (notebook) {
        panel.setNotebook(notebook);
      }
    });
    tracker.widgetAdded.connect((_, notebook) => {
      const button = new ToolbarButton({
        className: 'kalec-toolbar-button',
        label: 'Pipeline',
        tooltip: 'Show the pipeline kalec makes of this notebook, and check it',
        onClick: () => {
          panel.setNotebook(notebook);
          shell.activateById(panel.id);
          void panel.check(notebook);
        }
      });
      // beside the notebook's own run buttons, so a narrow notebook does not fold it into "...";
      // JupyterLab fills the toolbar from its settings after the notebook is added: wait for them
      const place = (tries: number): void => {
        if (notebook.isDisposed || RUN_BUTTONS.some(name => notebook.toolbar.insertAfter(name, 'kalec', button))) {
          return;
        }
        if (tries > 0) {
          window.setTimeout(() => place(tries - 1), 100);
        } else {
          notebook.toolbar.insertItem(RUN_BUTTONS_END, 'kalec', button);
        }
      };
      void notebook.revealed.then(() => place(50));
      watchChips(notebook, () => void panel.check(notebook));
    });
    panel.setNotebook(tracker.currentWidget);
  }
};

export default plugin;
