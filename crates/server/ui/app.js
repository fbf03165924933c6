// The web UI (SPEC 8): a page of the native API. It signs in for a session cookie (HttpOnly:
// this script never sees it), keeps only the session's CSRF token in memory, and renders every
// name the server sends as text. Folder views are addressed as #/{account}/{folder path}, and a
// search in a folder as #/{account}/{folder path}?q=… and an open asset as …?asset=ID
// (bookmarkable; never the key).
'use strict';

const state = { csrf: null, accounts: [], cursor: null, view: null };
const byId = (id) => document.getElementById(id);

/** One call of the native API: `{ status, data }`, `data` the parsed JSON body or null. */
async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (state.csrf && method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = state.csrf;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    return { status: 0, data: { detail: 'The server could not be reached.' } };
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = null; }
  }
  return { status: res.status, data };
}

function show(view) {
  for (const id of ['signin', 'library']) byId(id).hidden = id !== view;
  byId('who').hidden = view !== 'library';
}

function signedOut() {
  state.csrf = null;
  state.accounts = [];
  state.view = null;
  byId('panel').hidden = true;
  byId('grid').replaceChildren();
  show('signin');
  byId('key').focus();
}

function enter(session) {
  state.csrf = session.csrfToken;
  state.accounts = session.accounts;
  byId('user-name').textContent = session.user.name;
  const select = byId('account');
  select.replaceChildren(...session.accounts.map((a) => {
    const option = document.createElement('option');
    option.value = String(a.id);
    option.textContent = `${a.name} (${a.role})`;
    return option;
  }));
  show('library');
  route();
}

/** The account, folder and search the address names; the first account's root by default. */
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const mark = raw.indexOf('?');
  const path = mark < 0 ? raw : raw.slice(0, mark);
  const search = new URLSearchParams(mark < 0 ? '' : raw.slice(mark + 1));
  const parts = path.split('/').filter((p) => p !== '');
  let decoded;
  try { decoded = parts.map(decodeURIComponent); } catch (e) { decoded = []; }
  const first = state.accounts[0];
  const account = decoded.length > 0 ? Number(decoded[0]) : (first ? first.id : NaN);
  return {
    account,
    folder: decoded.slice(1).join('/'),
    q: search.get('q') || '',
    asset: search.get('asset') || '',
  };
}

/** The address of a view: a folder, maybe searched, maybe with an asset open. */
function viewHref({ account, folder, q, asset }) {
  const params = new URLSearchParams();
  if (q) params.set('q', q);
  if (asset) params.set('asset', asset);
  const tail = params.toString();
  return folderHref(account, folder) + (tail ? `?${tail}` : '');
}

function folderHref(account, folder) {
  const tail = folder ? `/${folder.split('/').map(encodeURIComponent).join('/')}` : '';
  return `#/${account}${tail}`;
}

function route() {
  if (!state.csrf) return;
  const { account, folder, q, asset } = parseHash();
  const same = state.view && state.view.account === account && state.view.folder === folder && state.view.q === q;
  if (same) {
    // Only the open asset changed: the grid stays as it is.
    state.view.asset = asset;
    showPanel(account, asset);
    return;
  }
  const known = state.accounts.find((a) => a.id === account);
  byId('grid').replaceChildren();
  byId('more').hidden = true;
  if (!known) {
    // An account the key does not reach: nothing of it is shown.
    byId('crumbs').replaceChildren();
    byId('folder-title').textContent = 'Not found';
    byId('status').textContent = 'There is no such account for you. Choose one of yours above.';
    return;
  }
  byId('account').value = String(account);
  byId('q').value = q;
  state.view = { account, folder, q, asset };
  showPanel(account, asset);
  state.cursor = null;
  renderCrumbs(account, known.name, folder, q);
  const here = folder ? folder.split('/').pop() : known.name;
  byId('folder-title').textContent = q ? `Results for “${q}” in ${here}` : here;
  loadPage();
}

function renderCrumbs(account, accountName, folder, q) {
  const items = [{ label: accountName, path: '' }];
  let path = '';
  for (const part of folder ? folder.split('/') : []) {
    path = path ? `${path}/${part}` : part;
    items.push({ label: part, path });
  }
  if (q) items.push({ label: 'Search', path: null });
  byId('crumbs').replaceChildren(...items.map((item, i) => {
    const li = document.createElement('li');
    if (i === items.length - 1 || item.path === null) {
      const here = document.createElement('span');
      here.setAttribute('aria-current', 'page');
      here.textContent = item.label;
      li.append(here);
    } else {
      const a = document.createElement('a');
      a.href = folderHref(account, item.path);
      a.textContent = item.label;
      li.append(a);
    }
    return li;
  }));
}

async function loadPage() {
  const view = state.view;
  let url;
  if (view.q) {
    // A search of the folder and everything below it, newest first, 100 at a time.
    const params = new URLSearchParams({ q: view.q, limit: '100' });
    if (view.folder) params.set('pathPrefix', view.folder);
    if (state.cursor) params.set('cursor', state.cursor);
    url = `/api/v1/accounts/${view.account}/assets?${params}`;
  } else {
    const params = new URLSearchParams({ limit: '200' });
    if (view.folder) params.set('path', view.folder);
    if (state.cursor) params.set('cursor', state.cursor);
    url = `/api/v1/accounts/${view.account}/tree?${params}`;
  }
  byId('status').textContent = 'Loading…';
  const { status, data } = await api('GET', url);
  if (state.view !== view) return; // the user went elsewhere meanwhile
  if (status === 401) { signedOut(); return; }
  if (status !== 200) {
    byId('status').textContent = (data && data.detail) || `The folder could not be read (${status}).`;
    return;
  }
  const entries = view.q ? data.items.map((asset) => ({ type: 'asset', asset })) : data.entries;
  byId('grid').append(...entries.map((entry) => tile(view.account, entry)));
  state.cursor = data.nextCursor;
  byId('more').hidden = !state.cursor;
  const count = byId('grid').children.length;
  const empty = view.q
    ? 'Nothing here matches. Names and tags are matched from their first letters.'
    : 'This folder is empty. Upload files into it through the API, or open another folder.';
  byId('status').textContent = count === 0
    ? empty
    : `${count} item${count === 1 ? '' : 's'}${state.cursor ? ' so far' : ''}`;
}

/** A short label for a file without a thumbnail: its extension, or its type's family. */
function typeLabel(asset) {
  const dot = asset.name.lastIndexOf('.');
  if (dot > 0 && dot < asset.name.length - 1) return asset.name.slice(dot + 1, dot + 6);
  return (asset.contentType || 'file').split('/')[0];
}

/** A labelled box standing for a file or folder without a picture. */
function icon(label) {
  const span = document.createElement('span');
  span.className = 'icon';
  span.textContent = label;
  return span;
}

function tile(account, entry) {
  const li = document.createElement('li');
  li.className = 'tile';
  const link = document.createElement('a');
  const thumb = document.createElement('div');
  thumb.className = 'thumb';
  const name = document.createElement('div');
  name.className = 'name';
  if (entry.type === 'folder') {
    link.href = folderHref(account, entry.path);
    thumb.append(icon('Folder'));
    name.textContent = entry.name;
    li.dataset.kind = 'folder';
  } else {
    const asset = entry.asset;
    const view = state.view;
    link.href = viewHref({ account, folder: view.folder, q: view.q, asset: asset.id });
    if (asset.versions && asset.versions.thumbnail) {
      // The thumbnail rendition, never the original.
      const img = document.createElement('img');
      img.src = `/api/v1/accounts/${account}/assets/${encodeURIComponent(asset.id)}/content?version=thumbnail`;
      img.alt = '';
      img.loading = 'lazy';
      thumb.append(img);
    } else {
      thumb.append(icon(typeLabel(asset)));
    }
    name.textContent = asset.name;
    li.dataset.kind = 'asset';
  }
  link.append(thumb, name);
  li.append(link);
  return li;
}

const SIZE_UNITS = ['bytes', 'KB', 'MB', 'GB', 'TB'];

function humanSize(n) {
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < SIZE_UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${n} bytes` : `${value.toFixed(1)} ${SIZE_UNITS[unit]}`;
}

function when(t) {
  return t ? new Date(t).toLocaleString() : '—';
}

/** The asset's panel (`?asset=ID`), or none. */
async function showPanel(account, id) {
  const panel = byId('panel');
  if (!id) {
    panel.hidden = true;
    state.panel = null;
    return;
  }
  state.panel = id;
  byId('signed-line').hidden = true;
  byId('panel-status').textContent = 'Loading…';
  byId('panel-close').href = viewHref({ ...state.view, asset: '' });
  panel.hidden = false;
  const { status, data } = await api('GET', `/api/v1/accounts/${account}/assets/${encodeURIComponent(id)}`);
  if (state.panel !== id) return;
  if (status === 401) { signedOut(); return; }
  if (status !== 200) {
    byId('panel-title').textContent = 'Not found';
    byId('preview').replaceChildren();
    byId('facts').replaceChildren();
    byId('public-url').value = '';
    byId('panel-status').textContent = (data && data.detail) || `The asset could not be read (${status}).`;
    return;
  }
  state.asset = data;
  byId('panel-title').textContent = data.name;
  byId('preview').replaceChildren(preview(account, data));
  byId('facts').replaceChildren(...facts(data));
  byId('public-url').value = data.url;
  byId('panel-status').textContent = '';
  byId('panel-close').focus();
}

/** A preview fit for the type: the web or thumbnail rendition of an image, a player for video
 * and audio, the first 64 KB of text; else the type's label. Never the original of an image. */
function preview(account, asset) {
  const content = (version) => `/api/v1/accounts/${account}/assets/${encodeURIComponent(asset.id)}/content`
    + (version ? `?version=${version}` : '');
  const type = asset.contentType || '';
  const versions = asset.versions || {};
  if (versions.web || versions.thumbnail) {
    const img = document.createElement('img');
    img.src = content(versions.web ? 'web' : 'thumbnail');
    img.alt = `Preview of ${asset.name}`;
    return img;
  }
  const family = type.split('/')[0];
  if (family === 'video' || family === 'audio') {
    const player = document.createElement(family);
    player.controls = true;
    player.preload = 'metadata';
    player.src = content('');
    return player;
  }
  if (type.startsWith('text/') || type === 'application/json') {
    const pre = document.createElement('pre');
    pre.textContent = 'Loading…';
    fetch(content(''), { headers: { Range: 'bytes=0-65535' }, credentials: 'same-origin' })
      .then((res) => (res.ok ? res.text() : Promise.reject(new Error(String(res.status)))))
      .then((text) => { pre.textContent = text; })
      .catch(() => { pre.textContent = 'The text could not be read.'; });
    return pre;
  }
  return icon(typeLabel(asset));
}

/** The asset's attributes and versions as definition list entries, all as text. */
function facts(asset) {
  const rows = [
    ['Folder', asset.path || '(root)'],
    ['Type', asset.contentType],
    ['Size', humanSize(asset.size)],
    ['Created', when(asset.createdAt)],
    ['Modified', when(asset.lastModified)],
    ['Tags', asset.tags.length ? asset.tags.join(', ') : '—'],
    ['SKUs', asset.skus.length ? asset.skus.join(', ') : '—'],
  ];
  for (const [key, value] of Object.entries(asset.metadata)) rows.push([`Metadata: ${key}`, value]);
  rows.push(
    ['Collections', asset.collectionIds.length ? asset.collectionIds.join(', ') : '—'],
    ['Approved', asset.approvedAt ? when(asset.approvedAt) : 'no'],
    ['Archived', asset.archivedAt ? when(asset.archivedAt) : 'no'],
    ['Sensitive', asset.sensitiveAt ? 'yes' : 'no'],
    ['Expires', when(asset.expiresAt)],
    ['Licence expires', when(asset.licenseExpiresAt)],
    ['Views', String(asset.views)],
    ['Downloads', String(asset.downloads)],
  );
  for (const [name, v] of Object.entries(asset.versions || {})) {
    const size = v.width ? `, ${v.width}×${v.height}` : '';
    rows.push([`Version: ${name}`, `${v.contentType}, ${humanSize(v.size)}${size}`]);
  }
  return rows.flatMap(([term, value]) => {
    const dt = document.createElement('dt');
    dt.textContent = term;
    const dd = document.createElement('dd');
    dd.textContent = value;
    return [dt, dd];
  });
}

async function copy(inputId, button) {
  const input = byId(inputId);
  try {
    await navigator.clipboard.writeText(input.value);
    byId('panel-status').textContent = 'Copied.';
  } catch (e) {
    input.select();
    byId('panel-status').textContent = 'Selected: press Ctrl+C (or Cmd+C) to copy.';
  }
  button.focus();
}

async function makeLink(event) {
  event.preventDefault();
  const asset = state.asset;
  if (!asset) return;
  const body = {
    expiresIn: Number(byId('link-life').value),
    disposition: byId('link-disposition').value,
  };
  const path = `/api/v1/accounts/${asset.accountId}/assets/${encodeURIComponent(asset.id)}/links`;
  const { status, data } = await api('POST', path, body);
  if (status === 201 || status === 200) {
    byId('signed-url').value = data.url;
    byId('signed-line').hidden = false;
    byId('panel-status').textContent = `Link made, valid until ${when(data.expiresAt)}.`;
  } else {
    byId('panel-status').textContent = (data && data.detail) || `The link could not be made (${status}).`;
  }
}

// ---- uploads ---------------------------------------------------------------------------------

/** Files sent at once. */
const PARALLEL_UPLOADS = 3;
const uploads = { queue: [], running: 0, items: [] };

/** Adds files (each with the folder below the current one it goes to) to the uploads. */
function enqueue(files) {
  const view = state.view;
  if (!view || files.length === 0) return;
  byId('upload-panel').hidden = false;
  for (const { file, dir } of files) {
    const folder = [view.folder, dir].filter((p) => p).join('/');
    const item = { file, folder, account: view.account, loaded: 0, done: false, li: uploadRow(file, folder) };
    uploads.items.push(item);
    uploads.queue.push(item);
  }
  pump();
}

function uploadRow(file, folder) {
  const li = document.createElement('li');
  const name = document.createElement('span');
  name.className = 'file';
  name.textContent = folder ? `${folder}/${file.name}` : file.name;
  const bar = document.createElement('progress');
  bar.max = file.size || 1;
  bar.value = 0;
  bar.setAttribute('aria-label', `Upload of ${file.name}`);
  const state = document.createElement('span');
  state.className = 'state';
  state.textContent = 'Waiting';
  li.append(name, bar, state);
  byId('uploads').append(li);
  return li;
}

function setState(item, text, failed) {
  const el = item.li.querySelector('.state');
  el.textContent = text;
  el.classList.toggle('failed', !!failed);
}

function pump() {
  while (uploads.running < PARALLEL_UPLOADS && uploads.queue.length > 0) {
    const item = uploads.queue.shift();
    uploads.running += 1;
    send(item).finally(() => {
      uploads.running -= 1;
      totals();
      pump();
      if (uploads.running === 0 && uploads.queue.length === 0) refreshFolder();
    });
  }
  totals();
}

function totals() {
  const size = uploads.items.reduce((n, i) => n + (i.file.size || 1), 0);
  const loaded = uploads.items.reduce((n, i) => n + (i.done ? (i.file.size || 1) : i.loaded), 0);
  const bar = byId('upload-total');
  bar.max = size || 1;
  bar.value = loaded;
  const finished = uploads.items.filter((i) => i.done).length;
  const failed = uploads.items.filter((i) => i.failed).length;
  byId('upload-summary').textContent =
    `${finished} of ${uploads.items.length} done${failed ? `, ${failed} failed` : ''}`;
}

/** Sends one file (multipart `path` and `file`), with its progress; a zip's expansion is
 * then followed until it ends. */
function send(item) {
  item.failed = false;
  item.done = false;
  item.loaded = 0;
  setState(item, 'Uploading…');
  const bar = item.li.querySelector('progress');
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/v1/accounts/${item.account}/assets`);
    xhr.setRequestHeader('Accept', 'application/json');
    if (state.csrf) xhr.setRequestHeader('X-CSRF-Token', state.csrf);
    xhr.upload.onprogress = (e) => {
      item.loaded = e.loaded;
      bar.value = e.loaded;
      totals();
    };
    xhr.onload = async () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
      if (xhr.status === 200 || xhr.status === 201) {
        bar.value = bar.max;
        item.done = true;
        setState(item, xhr.status === 201 ? 'Uploaded' : 'Uploaded, replacing the file that was there');
      } else if (xhr.status === 202 && data && data.upload) {
        bar.value = bar.max;
        setState(item, 'Uploaded; expanding the zip…');
        await follow(item, data.upload.id);
      } else {
        fail(item, (data && data.detail) || `Refused (${xhr.status}).`);
      }
      resolve();
    };
    xhr.onerror = () => { fail(item, 'The upload was cut off.'); resolve(); };
    const form = new FormData();
    if (item.folder) form.append('path', item.folder);
    form.append('file', item.file, item.file.name);
    xhr.send(form);
  });
}

function fail(item, message) {
  item.failed = true;
  item.done = true;
  setState(item, message, true);
  if (!item.li.querySelector('button')) {
    const retry = document.createElement('button');
    retry.type = 'button';
    retry.textContent = 'Retry';
    retry.setAttribute('aria-label', `Retry ${item.file.name}`);
    retry.addEventListener('click', () => {
      retry.remove();
      uploads.queue.push(item);
      pump();
    });
    item.li.insertBefore(retry, item.li.querySelector('.state'));
  }
}

/** Polls a zip's expansion until it completes or fails. */
async function follow(item, id) {
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const { status, data } = await api('GET', `/api/v1/accounts/${item.account}/uploads/${encodeURIComponent(id)}`);
    if (status !== 200) { fail(item, (data && data.detail) || `The expansion could not be followed (${status}).`); return; }
    if (data.status === 'completed' || data.status === 'completed_with_errors') {
      item.done = true;
      const skipped = data.errors.length ? `, ${data.errors.length} skipped: ${data.errors.map((e) => `${e.entry} (${e.reason})`).join('; ')}` : '';
      setState(item, `Expanded: ${data.totalProcessed} of ${data.totalItems} files${skipped}`);
      return;
    }
    if (data.status === 'failed') { fail(item, data.message || 'The zip could not be expanded.'); return; }
    setState(item, `Expanding the zip: ${data.totalProcessed} of ${data.totalItems}…`);
  }
}

function refreshFolder() {
  if (!state.view) return;
  const view = state.view;
  state.view = null; // force a reload of the same address
  location.hash === viewHref(view) ? route() : (location.hash = viewHref(view));
}

/** The files of a drop, folders walked (each file with its folder below the drop). */
async function droppedFiles(dataTransfer) {
  const out = [];
  const walk = async (entry, dir) => {
    if (entry.isFile) {
      const file = await new Promise((ok, err) => entry.file(ok, err));
      out.push({ file, dir });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      const sub = dir ? `${dir}/${entry.name}` : entry.name;
      for (;;) {
        const batch = await new Promise((ok, err) => reader.readEntries(ok, err));
        if (batch.length === 0) break;
        for (const e of batch) await walk(e, sub);
      }
    }
  };
  const entries = [...dataTransfer.items].map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null));
  if (entries.some((e) => e)) {
    for (const e of entries) if (e) await walk(e, '');
  } else {
    for (const file of dataTransfer.files) out.push({ file, dir: '' });
  }
  return out;
}

function picked(input, keepFolders) {
  const files = [...input.files].map((file) => {
    const rel = keepFolders && file.webkitRelativePath ? file.webkitRelativePath.split('/').slice(0, -1).join('/') : '';
    return { file, dir: rel };
  });
  input.value = '';
  enqueue(files);
}

async function signIn(event) {
  event.preventDefault();
  const input = byId('key');
  const error = byId('signin-error');
  error.textContent = '';
  const key = input.value.trim();
  if (!key) {
    error.textContent = 'Enter an API key.';
    input.focus();
    return;
  }
  const { status, data } = await api('POST', '/api/v1/session', { key });
  if (status === 201) {
    input.value = '';
    enter(data);
    byId('main').focus();
  } else {
    error.textContent = (data && data.detail) || `Signing in failed (${status}).`;
    input.focus();
  }
}

async function signOut() {
  await api('DELETE', '/api/v1/session');
  history.replaceState(null, '', location.pathname);
  signedOut();
}

function search(event) {
  event.preventDefault();
  const view = state.view;
  if (!view) return;
  const q = byId('q').value.trim();
  const tail = q ? `?${new URLSearchParams({ q })}` : '';
  location.hash = folderHref(view.account, view.folder) + tail;
}

async function start() {
  byId('signin-form').addEventListener('submit', signIn);
  byId('search-form').addEventListener('submit', search);
  byId('link-form').addEventListener('submit', makeLink);
  byId('files').addEventListener('change', (e) => picked(e.target, false));
  byId('folder-files').addEventListener('change', (e) => picked(e.target, true));
  const library = byId('library');
  library.addEventListener('dragover', (e) => { e.preventDefault(); library.classList.add('dropping'); });
  library.addEventListener('dragleave', () => library.classList.remove('dropping'));
  library.addEventListener('drop', async (e) => {
    e.preventDefault();
    library.classList.remove('dropping');
    enqueue(await droppedFiles(e.dataTransfer));
  });
  byId('copy-public').addEventListener('click', (e) => copy('public-url', e.target));
  byId('copy-signed').addEventListener('click', (e) => copy('signed-url', e.target));
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !byId('panel').hidden) location.hash = byId('panel-close').getAttribute('href');
  });
  byId('sign-out').addEventListener('click', signOut);
  byId('more').addEventListener('click', loadPage);
  byId('account').addEventListener('change', (e) => { location.hash = folderHref(e.target.value, ''); });
  window.addEventListener('hashchange', route);
  const { status, data } = await api('GET', '/api/v1/session');
  if (status === 200) enter(data);
  else signedOut();
}

document.addEventListener('DOMContentLoaded', start);
