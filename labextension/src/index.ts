/**
 * kalec in JupyterLab: a "Pipeline" button on every notebook's toolbar, a side panel that
 * follows the active notebook, and a chip above each code cell naming its step.
 */

import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ToolbarButton } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { Connection, KalecApi } from './api';
import { chipsMissing, renderChips } from './chips';
import { KalecPanel } from './panel';

const PLUGIN_ID = 'kalec-labextension:plugin';

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

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Tag cells into pipeline steps; check, run, build and deploy with kalec.',
  autoStart: true,
  requires: [INotebookTracker, ILabShell],
  optional: [ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    shell: ILabShell,
    registry: ISettingRegistry | null
  ) => {
    const connection: Connection = { serverUrl: '', token: '' };
    if (registry) {
      void registry.load(PLUGIN_ID).then(settings => {
        const read = () => {
          connection.serverUrl = String(settings.get('serverUrl').composite ?? '').trim();
          connection.token = String(settings.get('token').composite ?? '');
        };
        read();
        settings.changed.connect(read);
      });
    }
    const api = new KalecApi(() => connection);
    const panel = new KalecPanel(api);
    shell.add(panel, 'right', { rank: 600 });

    tracker.currentChanged.connect((_, notebook) => panel.setNotebook(notebook));
    tracker.widgetAdded.connect((_, notebook) => {
      const button = new ToolbarButton({
        className: 'kalec-toolbar-button',
        label: 'Pipeline',
        tooltip: 'Show the pipeline kalec makes of this notebook, and check it',
        onClick: () => {
          panel.setNotebook(notebook);
          shell.activateById(panel.id);
          void panel.check();
        }
      });
      notebook.toolbar.insertItem(10, 'kalec', button);
      watchChips(notebook, () => {
        if (tracker.currentWidget === notebook) {
          panel.setNotebook(notebook);
          void panel.check();
        }
      });
    });
    panel.setNotebook(tracker.currentWidget);
  }
};

export default plugin;
