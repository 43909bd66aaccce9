/* global window, URLSearchParams */
/** What every page shares: the `html` template tag, data loading, errors, statuses, operations started. */
import { h } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { ApiError } from './api.js';

export const html = htm.bind(h);

/** Loads with `load()` (an async function) whenever `deps` change; `reload()` loads again. */
export function useLoad(load, deps = []) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let current = true;
    setState((previous) => ({ ...previous, loading: true }));
    load().then(
      (data) => current && setState({ data, error: null, loading: false }),
      (error) => current && setState({ data: undefined, error, loading: false }),
    );
    return () => {
      current = false;
    };
    // The caller names the dependencies.
  }, [...deps, round]);
  const reload = useCallback(() => setRound((n) => n + 1), []);
  return { ...state, reload };
}

/** Runs an action (a button's), keeping its error and whether it is busy. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = useCallback(async (action) => {
    setBusy(true);
    setError(null);
    try {
      return await action();
    } catch (caught) {
      setError(caught);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run, setError };
}

/** An API error in words: its message, and the fields a 400 names. */
export function ErrorNote({ error }) {
  if (!error) return null;
  const body = error instanceof ApiError ? error.body : {};
  const details = [
    ...(body.issues ?? []).map((issue) => `${issue.path}: ${issue.message}`),
    ...(body.problems ?? []),
  ];
  return html`<div class="error" role="alert">
    <strong>${error instanceof ApiError ? `${error.status} ${body.error ?? ''}` : 'Error'}</strong>
    ${' '}${error.message}
    ${
      details.length > 0 &&
      html`<ul>
        ${details.map((detail) => html`<li>${detail}</li>`)}
      </ul>`
    }
  </div>`;
}

export const Loading = () => html`<p class="loading">Loading…</p>`;

/** A page's data: loading, its error, or the page itself. */
export function Loaded({ state, children }) {
  if (state.error) return html`<${ErrorNote} error=${state.error} />`;
  if (state.data === undefined) return html`<${Loading} />`;
  return children(state.data);
}

const statusClass = {
  completed: 'ok',
  synced: 'ok',
  written: 'ok',
  healthy: 'ok',
  delivered: 'ok',
  running: 'busy',
  queued: 'busy',
  imported: 'busy',
  retrying: 'warn',
  'needs-confirmation': 'warn',
  attention: 'warn',
  deprovisioned: 'muted',
  unchanged: 'muted',
  skipped: 'muted',
  unknown: 'muted',
  failed: 'bad',
  canceled: 'bad',
  terminated: 'bad',
  'timed-out': 'bad',
};

export const Status = ({ value }) =>
  html`<span class=${`status status-${statusClass[value] ?? 'muted'}`}>${value}</span>`;

export const time = (value) => (value ? new Date(value).toLocaleString() : '—');

/** The operations a change started, each linked to the operations page. */
export function Started({ operations }) {
  if (!operations) return null;
  if (operations.length === 0)
    return html`<p class="note">No operation started: nothing in any app has to change.</p>`;
  return html`<div class="note started">
    Started ${operations.length} operation(s):
    <ul>
      ${operations.slice(0, 20).map(
        (operation) =>
          html`<li>
            <a href=${`#/operations/${encodeURIComponent(operation.workflowId)}`}>${operation.workflowId}</a>
            ${' '}<${Status} value=${operation.status ?? 'queued'} />
          </li>`,
      )}
      ${operations.length > 20 && html`<li>… and ${operations.length - 20} more</li>`}
    </ul>
  </div>`;
}

/** A link that navigates within the console. */
export const go = (hash) => {
  window.location.hash = hash;
};

/** `#/a/b?x=1` → {parts: ['a', 'b'], params: {x: '1'}}. */
export function parseHash(hash) {
  const [pathPart, queryPart = ''] = hash.replace(/^#\/?/, '').split('?');
  return {
    parts: pathPart.split('/').filter(Boolean).map(decodeURIComponent),
    params: Object.fromEntries(new URLSearchParams(queryPart)),
  };
}

/** Text box bound to a value. */
export const TextInput = ({
  label,
  value,
  onInput,
  type = 'text',
  name,
  required,
  placeholder,
  autocomplete,
}) =>
  html`<label class="field"
    >${label}
    <input
      type=${type}
      name=${name}
      value=${value ?? ''}
      required=${required}
      placeholder=${placeholder}
      autocomplete=${autocomplete ?? 'off'}
      onInput=${(event) => onInput(event.currentTarget.value)}
  /></label>`;

export const Select = ({ label, value, onChange, options, name }) =>
  html`<label class="field"
    >${label}
    <select name=${name} value=${value} onChange=${(event) => onChange(event.currentTarget.value)}>
      ${options.map((option) => {
        const [optionValue, text] = Array.isArray(option) ? option : [option, option];
        return html`<option value=${optionValue} selected=${optionValue === value}>${text}</option>`;
      })}
    </select></label
  >`;

/**
 * A checkbox that shows what was clicked at once, while the change it starts is saved; it follows `checked` again
 * whenever that changes (the page reloaded what was saved).
 */
export function Checkbox({ label, checked, onChange, name }) {
  const [shown, setShown] = useState(checked);
  useEffect(() => setShown(checked), [checked]);
  return html`<label class="check"
    ><input
      type="checkbox"
      name=${name}
      checked=${shown}
      onChange=${(event) => {
        setShown(event.currentTarget.checked);
        onChange(event.currentTarget.checked);
      }}
    />
    ${label}</label
  >`;
}
