/**
 * The pipeline graph as JupyterLab shows it: kalec's SVG drawing (boxes, arrows, labels placed
 * so they never overlap), coloured with the panel's step colours and the theme's, in a view
 * that pans (drag) and zooms (wheel, buttons). Clicking a step selects its cells; the step of
 * the notebook's current cell is highlighted. Used twice: as a main-area tab, and small in the
 * panel as an overview.
 *
 * The drawing comes from kalec's server, with notebook text (step and variable names) escaped
 * in it; it is still parsed as data and only known SVG elements and attributes are kept, so
 * nothing in it can run.
 */

import { Widget } from '@lumino/widgets';

const KEPT_ELEMENTS = new Set(['svg', 'g', 'rect', 'text', 'path', 'title', 'defs', 'marker']);
const KEPT_ATTRIBUTES = new Set([
  'class', 'data-step', 'data-cells', 'data-from', 'data-to', 'data-notebook', 'x', 'y',
  'width', 'height', 'rx', 'd', 'fill', 'fill-opacity', 'stroke', 'stroke-dasharray',
  'marker-end', 'viewBox', 'refX', 'refY', 'markerWidth', 'markerHeight', 'orient', 'id',
  'font-family', 'font-size', 'font-weight', 'text-anchor', 'xmlns'
]);
const MIN_SCALE = 0.2;
const MAX_SCALE = 4;
/** Below this the names in the boxes (12 px) would read smaller than 11 px: not a first view. */
export const READABLE_SCALE = 0.92;

/** kalec's SVG as an element of this document, with only what a drawing needs kept. */
export function parseSvg(text: string): SVGSVGElement | null {
  const parsed = new DOMParser().parseFromString(text, 'image/svg+xml');
  const root = parsed.documentElement;
  if (!root || root.nodeName !== 'svg' || parsed.getElementsByTagName('parsererror').length) {
    return null;
  }
  const walk = (node: Element): void => {
    for (const child of Array.from(node.children)) {
      if (!KEPT_ELEMENTS.has(child.nodeName)) {
        child.remove();
        continue;
      }
      walk(child);
    }
    for (const attribute of Array.from(node.attributes)) {
      if (!KEPT_ATTRIBUTES.has(attribute.name)) {
        node.removeAttribute(attribute.name);
      }
    }
    const marker = node.getAttribute('marker-end');
    if (marker && marker !== 'url(#arrow)') {
      node.removeAttribute('marker-end');
    }
  };
  walk(root);
  return document.importNode(root, true) as unknown as SVGSVGElement;
}

export interface GraphOptions {
  /** A step was clicked: select its cells. */
  onStep: (step: string, cells: number[]) => void;
  /** Small, without controls: the panel's overview. */
  overview?: boolean;
}

export class GraphView extends Widget {
  private svg: SVGSVGElement | null = null;
  private scale = 1;
  private x = 0;
  private y = 0;
  private current: string | null = null;
  private readonly viewport = document.createElement('div');
  private readonly message = document.createElement('div');
  private readonly zoomText = document.createElement('span');

  constructor(private readonly options: GraphOptions) {
    super();
    this.addClass('kalec-graph-view');
    if (options.overview) {
      this.addClass('kalec-graph-overview');
    } else {
      this.node.append(this.controls());
    }
    this.viewport.className = 'kalec-graph-viewport';
    this.message.className = 'kalec-graph-message';
    this.node.append(this.message, this.viewport);
    if (!options.overview) {
      this.enablePanAndZoom();
    }
  }

  /** The current scale: what the tests read to know the names are drawn large enough. */
  get zoom(): number {
    return this.scale;
  }

  /** Show ``text`` (kalec's SVG), or ``note`` in words when there is no drawing. */
  draw(text: string | null, colours: Map<string, string>, note = ''): void {
    this.viewport.replaceChildren();
    this.svg = text ? parseSvg(text) : null;
    this.message.textContent = this.svg ? note : note || 'no graph yet';
    this.message.hidden = !this.message.textContent;
    if (!this.svg) {
      return;
    }
    this.svg.removeAttribute('width');
    this.svg.removeAttribute('height');
    for (const step of Array.from(this.svg.querySelectorAll('g.step'))) {
      const name = step.getAttribute('data-step') ?? '';
      const colour = colours.get(name);
      const rect = step.querySelector('rect');
      if (colour && rect) {
        rect.setAttribute('stroke', colour);
        (rect as SVGElement).style.setProperty('--kalec-step-colour', colour);
      }
      if (!this.options.overview) {
        step.setAttribute('tabindex', '0');
        step.setAttribute('role', 'button');
        const select = () => {
          const cells = (step.getAttribute('data-cells') ?? '').split(' ').filter(Boolean).map(Number);
          this.options.onStep(name, cells);
        };
        step.addEventListener('click', select);
        step.addEventListener('keydown', event => {
          if ((event as KeyboardEvent).key === 'Enter') {
            select();
          }
        });
      }
    }
    this.viewport.append(this.svg);
    this.highlight(this.current);
    this.fit();
  }

  /** Each step's state in the notebook's run (none: no run), as a mark on its box. */
  showStates(states: ReadonlyMap<string, string>): void {
    for (const node of Array.from(this.svg?.querySelectorAll('g.step') ?? [])) {
      const state = states.get(node.getAttribute('data-step') ?? '');
      if (state) {
        node.setAttribute('data-state', state);
      } else {
        node.removeAttribute('data-state');
      }
    }
  }

  /** Mark the step of the notebook's current cell. */
  highlight(step: string | null): void {
    this.current = step;
    for (const node of Array.from(this.svg?.querySelectorAll('g.step') ?? [])) {
      node.classList.toggle('kalec-current', node.getAttribute('data-step') === step);
    }
  }

  /** The drawing's own size, from its viewBox. */
  private size(): { width: number; height: number } {
    const box = this.svg?.viewBox.baseVal;
    return { width: box?.width || 1, height: box?.height || 1 };
  }

  /** The first view: the whole graph when it fits at a readable size, else readable size. */
  fit(): void {
    if (!this.svg) {
      return;
    }
    const { width, height } = this.size();
    const room = this.viewport.clientWidth || this.node.clientWidth || width;
    const roomHeight = this.viewport.clientHeight || height;
    if (this.options.overview) {
      this.scale = Math.min(room / width, 1);
      this.apply();
      return;
    }
    const whole = Math.min(room / width, roomHeight / height);
    this.scale = Math.min(Math.max(whole, READABLE_SCALE), 1.25);
    this.x = Math.max((room - width * this.scale) / 2, 0);
    this.y = 0;
    this.apply();
  }

  zoomBy(factor: number, aroundX?: number, aroundY?: number): void {
    const next = Math.min(Math.max(this.scale * factor, MIN_SCALE), MAX_SCALE);
    const cx = aroundX ?? this.viewport.clientWidth / 2;
    const cy = aroundY ?? this.viewport.clientHeight / 2;
    this.x = cx - ((cx - this.x) * next) / this.scale;
    this.y = cy - ((cy - this.y) * next) / this.scale;
    this.scale = next;
    this.apply();
  }

  private apply(): void {
    if (!this.svg) {
      return;
    }
    const { width, height } = this.size();
    this.svg.style.width = `${width * this.scale}px`;
    this.svg.style.height = `${height * this.scale}px`;
    if (!this.options.overview) {
      this.svg.style.transform = `translate(${this.x}px, ${this.y}px)`;
    }
    this.zoomText.textContent = `${Math.round(this.scale * 100)}%`;
  }

  private controls(): HTMLElement {
    const bar = document.createElement('div');
    bar.className = 'kalec-graph-controls';
    const button = (label: string, title: string, action: () => void) => {
      const node = document.createElement('button');
      node.type = 'button';
      node.className = 'jp-Button jp-mod-styled jp-mod-reject kalec-small-button';
      node.textContent = label;
      node.title = title;
      node.setAttribute('aria-label', title);
      node.onclick = action;
      return node;
    };
    this.zoomText.className = 'kalec-zoom';
    bar.append(
      button('−', 'zoom out', () => this.zoomBy(1 / 1.25)),
      this.zoomText,
      button('+', 'zoom in', () => this.zoomBy(1.25)),
      button('Fit', 'fit the graph to the view', () => this.fit()),
      button('100%', 'actual size', () => {
        this.scale = 1;
        this.apply();
      })
    );
    return bar;
  }

  private enablePanAndZoom(): void {
    let dragging: { x: number; y: number; startX: number; startY: number } | null = null;
    this.viewport.addEventListener('wheel', event => {
      event.preventDefault();
      const bounds = this.viewport.getBoundingClientRect();
      this.zoomBy(event.deltaY < 0 ? 1.1 : 1 / 1.1, event.clientX - bounds.left, event.clientY - bounds.top);
    });
    this.viewport.addEventListener('pointerdown', event => {
      if ((event.target as Element).closest('g.step')) {
        return; // a click on a step selects it
      }
      dragging = { x: event.clientX, y: event.clientY, startX: this.x, startY: this.y };
      this.viewport.setPointerCapture(event.pointerId);
      this.viewport.classList.add('kalec-dragging');
    });
    this.viewport.addEventListener('pointermove', event => {
      if (dragging) {
        this.x = dragging.startX + event.clientX - dragging.x;
        this.y = dragging.startY + event.clientY - dragging.y;
        this.apply();
      }
    });
    const stop = () => {
      dragging = null;
      this.viewport.classList.remove('kalec-dragging');
    };
    this.viewport.addEventListener('pointerup', stop);
    this.viewport.addEventListener('pointercancel', stop);
  }

  protected onResize(): void {
    if (this.options.overview) {
      this.fit();
    }
  }
}

