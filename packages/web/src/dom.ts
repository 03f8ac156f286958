/**
 * A few DOM helpers: the app renders with plain DOM calls (no framework at run time), so that the
 * bundle stays small and what the tests click is exactly what the code built.
 */
export type Child = Node | string | number | null | undefined | false;
export type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

/**
 * `h('button', { class: 'x', onclick: fn, 'aria-label': 'Send' }, 'Send')`. Attributes set to
 * `false`, `null` or `undefined` are left out; `true` sets an empty attribute; `on*` functions
 * become listeners.
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs | null = null, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === false || v === null || v === undefined) continue;
      if (typeof v === 'function') {
        el.addEventListener(k.slice(2).toLowerCase(), v);
      } else if (k === 'value' && (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement)) {
        el.value = String(v);
      } else {
        el.setAttribute(k, v === true ? '' : String(v));
      }
    }
  }
  append(el, children);
  return el;
}

function append(el: Node, children: (Child | Child[])[]): void {
  for (const c of children) {
    if (Array.isArray(c)) append(el, c);
    else if (c === null || c === undefined || c === false) continue;
    else el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** Replace every child of `el`. */
export function replace(el: Element, ...children: (Child | Child[])[]): void {
  el.replaceChildren();
  append(el, children);
}

/** Announce `text` to screen readers through a polite live region. */
export function announce(text: string): void {
  let region = document.getElementById('announcer');
  if (!region) {
    region = h('div', { id: 'announcer', class: 'sr-only', 'aria-live': 'polite', role: 'status' });
    document.body.appendChild(region);
  }
  region.textContent = '';
  // A separate task, so that the same text announced twice is read twice.
  const r = region;
  setTimeout(() => (r.textContent = text), 50);
}

/** `fn` at most once per `ms`, after the burst of calls that asked for it (a render scheduler). */
export function coalesce(fn: () => void, ms = 16): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  return () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      fn();
    }, ms);
  };
}
