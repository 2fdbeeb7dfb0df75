/** Small DOM helpers the panel's sections share: elements, JupyterLab-styled buttons, fields. */

export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    node.setAttribute(key, value);
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

export function button(label: string, className: string, kind: 'accept' | 'reject' = 'reject'): HTMLButtonElement {
  return element('button', { type: 'button', class: `jp-Button jp-mod-styled jp-mod-${kind} ${className}` }, label);
}

/** A labelled field, stacked (label above its input), so forms hold at any panel width. */
export function field(form: HTMLElement, label: string, input: HTMLElement): void {
  const row = element('label', { class: 'kalec-field' });
  row.append(element('span', {}, label), input);
  form.append(row);
}

export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}
