/** Sign in or create an account. */
import { h } from '../dom.ts';
import { AuthError, type Session } from '../session.ts';

const MESSAGES: Record<string, string> = {
  BAD_CREDENTIALS: 'Wrong handle or password.',
  HANDLE_TAKEN: 'That handle is already taken.',
  INVALID: 'Handles are 3–32 letters, digits, “.”, “_” or “-”; passwords at least 8 characters.',
  RATE_LIMITED: 'Too many attempts; wait a moment.',
};

export function loginView(session: Session, done: () => void): HTMLElement {
  let mode: 'login' | 'register' = 'login';
  const handle = h('input', { id: 'login-handle', name: 'handle', autocomplete: 'username', required: true, minlength: 3, maxlength: 32, 'data-testid': 'login-handle', autocapitalize: 'off', spellcheck: 'false' });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true, minlength: 8, 'data-testid': 'login-password' });
  const error = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'login-error' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'login-submit' }, 'Log in');
  const title = h('h1', { id: 'login-title' }, 'Log in to Parley');
  const switchText = h('span', null, 'No account yet?');
  const toggle = h('button', { type: 'button', class: 'link', 'data-testid': 'login-toggle' }, 'Create one');

  const setMode = (m: 'login' | 'register') => {
    mode = m;
    title.textContent = m === 'login' ? 'Log in to Parley' : 'Create a Parley account';
    submit.textContent = m === 'login' ? 'Log in' : 'Create account';
    switchText.textContent = m === 'login' ? 'No account yet?' : 'Have an account?';
    toggle.textContent = m === 'login' ? 'Create one' : 'Log in';
    password.autocomplete = m === 'login' ? 'current-password' : 'new-password';
    error.textContent = '';
  };
  toggle.addEventListener('click', () => setMode(mode === 'login' ? 'register' : 'login'));

  const form = h(
    'form',
    { class: 'login-form', 'aria-labelledby': 'login-title', novalidate: true },
    h('div', { class: 'logo', 'aria-hidden': 'true' }, h('span', null, 'P')),
    title,
    h('label', { for: 'login-handle' }, 'Handle'),
    handle,
    h('label', { for: 'login-password' }, 'Password'),
    password,
    error,
    submit,
    h('p', { class: 'switch' }, switchText, ' ', toggle),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    error.textContent = '';
    const hv = handle.value.trim();
    if (hv.length < 3 || password.value.length < 8) {
      error.textContent = MESSAGES['INVALID'] ?? '';
      return;
    }
    submit.disabled = true;
    const op = mode === 'login' ? session.login(hv, password.value) : session.register(hv, password.value);
    op.then(done, (err: unknown) => {
      submit.disabled = false;
      error.textContent = err instanceof AuthError ? (MESSAGES[err.code] ?? err.message) : 'Cannot reach the server. Try again.';
    });
  });
  const main = h('main', { class: 'login' }, form);
  queueMicrotask(() => handle.focus());
  return main;
}
