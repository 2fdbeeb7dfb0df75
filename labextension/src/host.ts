/** What the panel offers its sections (deploy, tune): the current notebook, its model, and
 * the requests that name it. */

import { NotebookPanel } from '@jupyterlab/notebook';

import { KalecApi } from './api';
import { NotebookModel } from './model';

export interface PanelDefaults {
  kfpUrl: string;
  target: string;
  experiment: string;
}

export interface PanelHost {
  readonly api: KalecApi;
  readonly defaults: PanelDefaults;
  readonly currentNotebook: NotebookPanel | null;
  readonly current: NotebookModel | null;
  model(panel: NotebookPanel): NotebookModel;
  /** The request body naming ``panel``'s notebook (its content, and its path in Jupyter). */
  body(panel: NotebookPanel, extra?: Record<string, unknown>): Record<string, unknown>;
  /** A saved setting of the current notebook (``kalec`` metadata, else Kale's). */
  savedSetting(key: 'name' | 'description' | 'image' | 'experiment'): string;
}
