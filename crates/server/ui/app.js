// The web UI (SPEC 8): a page of the native API. It signs in for a session cookie (HttpOnly:
// this script never sees it), keeps only the session's CSRF token in memory, and renders every
// name the server sends as text. Every view has its own address, never holding the key:
//   #/{account}/{folder path}                a folder (its tree level, in name order)
//   #/{account}/{folder path}?q=…&tag=…      a search of the folder and below it, with the
//                                            native search's own parameters as filters
//   …&sort=…&view=list&asset=ID              its sort, the list layout, an open asset
//   #collections/{account}, #keys/{account}  an account's collections and (owners) API keys
'use strict';

const state = {
  csrf: null, accounts: [], user: null, cursor: null, view: null, loading: null,
  items: new Map(), selected: new Set(), anchor: null, collections: new Map(),
};
const byId = (id) => document.getElementById(id);

/** One call of the native API: `{ status, data, etag }`, `data` the parsed JSON body or null. */
async function api(method, path, body, extraHeaders) {
  const headers = { Accept: 'application/json', ...(extraHeaders || {}) };
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
    return { status: 0, data: { detail: 'The server could not be reached.' }, etag: null };
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = null; }
  }
  if (res.status === 401 && state.csrf && path !== '/api/v1/session') signedOut();
  return { status: res.status, data, etag: res.headers.get('ETag') };
}

/** The server's message for a refused call. */
function problem(res, what) {
  return (res.data && res.data.detail) || `${what} (${res.status}).`;
}

const PAGES = ['signin', 'library', 'collections', 'keys'];

function show(view) {
  for (const id of PAGES) byId(id).hidden = id !== view;
  requestAnimationFrame(measureBar);
  byId('who').hidden = view === 'signin';
  byId('sections').hidden = view === 'signin';
  for (const [id, page] of [['nav-library', 'library'], ['nav-collections', 'collections'], ['nav-keys', 'keys']]) {
    if (page === view) byId(id).setAttribute('aria-current', 'page');
    else byId(id).removeAttribute('aria-current');
  }
  if (view !== 'library') byId('panel').hidden = true;
}

function signedOut() {
  state.csrf = null;
  state.accounts = [];
  state.view = null;
  state.items.clear();
  state.selected.clear();
  byId('panel').hidden = true;
  byId('grid').replaceChildren();
  byId('tree').replaceChildren();
  show('signin');
  byId('key').focus();
}

function enter(session) {
  state.csrf = session.csrfToken;
  state.accounts = session.accounts;
  state.user = session.user;
  byId('user-name').textContent = session.user.name;
  const select = byId('account');
  select.replaceChildren(...session.accounts.map((a) => {
    const option = document.createElement('option');
    option.value = String(a.id);
    option.textContent = `${a.name} (${a.role})`;
    return option;
  }));
  route();
}

function accountOf(id) {
  return state.accounts.find((a) => a.id === id);
}

function roleIn(id) {
  const a = accountOf(id);
  return a ? a.role : null;
}

const canEdit = (id) => ['owner', 'editor'].includes(roleIn(id));

// ---- addresses --------------------------------------------------------------------------------

/** The search parameters the native API takes, kept in the address as they are. */
const FILTERS = [
  { key: 'tag', label: 'Tag', kind: 'text', repeat: true },
  { key: 'sku', label: 'SKU', kind: 'text' },
  { key: 'meta', label: 'Metadata', kind: 'meta', repeat: true },
  { key: 'collectionId', label: 'Collection', kind: 'collection' },
  { key: 'contentType', label: 'Type', kind: 'type' },
  { key: 'approved', label: 'Approved', kind: 'bool' },
  { key: 'favoriteBy', label: 'My favourites', kind: 'mine' },
  { key: 'createdMin', label: 'Created on or after', kind: 'date' },
  { key: 'createdMax', label: 'Created on or before', kind: 'date' },
  { key: 'batchId', label: 'Batch', kind: 'text' },
  { key: 'path', label: 'Only this folder', kind: 'here' },
  { key: 'id', label: 'Asset id', kind: 'text', repeat: true },
  { key: 'sensitive', label: 'Sensitive', kind: 'bool', owner: true },
  { key: 'archived', label: 'Archived', kind: 'bool', owner: true },
  { key: 'licenseExpired', label: 'Licence expired', kind: 'bool', owner: true },
];
const filterOf = (name) => FILTERS.find((f) => f.key === (name.startsWith('meta.') ? 'meta' : name));

/** The account, folder, search, filters, sort, layout and open asset the address names. */
function parseHash() {
  const raw = location.hash.replace(/^#/, '');
  const mark = raw.indexOf('?');
  const path = mark < 0 ? raw : raw.slice(0, mark);
  const search = new URLSearchParams(mark < 0 ? '' : raw.slice(mark + 1));
  let page = 'library';
  let rest = path;
  for (const other of ['collections', 'keys']) {
    if (path === other || path.startsWith(`${other}/`)) {
      page = other;
      rest = path.slice(other.length);
    }
  }
  const parts = rest.split('/').filter((p) => p !== '');
  let decoded;
  try { decoded = parts.map(decodeURIComponent); } catch (e) { decoded = []; }
  const first = state.accounts[0];
  const account = decoded.length > 0 ? Number(decoded[0]) : (first ? first.id : NaN);
  const filters = [];
  for (const [name, value] of search) {
    if (filterOf(name) && value !== '' && !(name === 'meta' || name === 'meta.')) filters.push([name, value]);
  }
  return {
    page,
    account,
    folder: decoded.slice(1).join('/'),
    q: search.get('q') || '',
    filters,
    sort: search.get('sort') || '',
    layout: search.get('view') === 'list' ? 'list' : 'grid',
    asset: search.get('asset') || '',
  };
}

/** The address of a view: a folder, maybe searched and filtered, maybe with an asset open. */
function viewHref(view) {
  const params = new URLSearchParams();
  if (view.q) params.set('q', view.q);
  for (const [name, value] of view.filters || []) params.append(name, value);
  if (view.sort) params.set('sort', view.sort);
  if (view.layout === 'list') params.set('view', 'list');
  if (view.asset) params.set('asset', view.asset);
  const tail = params.toString();
  return folderHref(view.account, view.folder) + (tail ? `?${tail}` : '');
}

function folderHref(account, folder) {
  const tail = folder ? `/${folder.split('/').map(encodeURIComponent).join('/')}` : '';
  return `#/${account}${tail}`;
}

/** Goes to the current view with some of its parts changed. */
function go(changes) {
  location.hash = viewHref({ ...state.view, ...changes });
}

const searching = (view) => !!(view.q || view.filters.length || view.sort);

/** A folder lists in name order; a search (text or filters) newest first. */
const defaultSort = (view) => (view.q || view.filters.length ? '-createdAt' : 'name');

function route() {
  if (!state.csrf) return;
  const view = parseHash();
  const known = accountOf(view.account);
  if (known) byId('account').value = String(view.account);
  byId('nav-library').href = folderHref(view.account, '');
  byId('nav-collections').href = `#collections/${view.account}`;
  byId('nav-keys').href = `#keys/${view.account}`;
  byId('nav-keys').hidden = roleIn(view.account) !== 'owner';
  if (view.page === 'collections') { state.view = null; show('collections'); showCollections(view.account); return; }
  if (view.page === 'keys') { state.view = null; show('keys'); showKeys(view.account); return; }
  show('library');
  const old = state.view;
  const same = old && old.account === view.account && old.folder === view.folder && viewHref({ ...old, asset: '' }) === viewHref({ ...view, asset: '' });
  if (same) {
    // Only the open asset changed: the grid stays as it is.
    state.view.asset = view.asset;
    showPanel(view.account, view.asset);
    return;
  }
  byId('grid').replaceChildren();
  byId('more').hidden = true;
  state.items.clear();
  clearSelection();
  if (!known) {
    // An account the key does not reach: nothing of it is shown.
    state.view = null;
    byId('tree').replaceChildren();
    byId('crumbs').replaceChildren();
    byId('chips').replaceChildren();
    byId('folder-title').textContent = 'Not found';
    byId('status').textContent = 'There is no such account for you. Choose one of yours above.';
    byId('panel').hidden = true;
    return;
  }
  const accountChanged = !old || old.account !== view.account;
  state.view = view;
  if (accountChanged) { state.collections.clear(); loadCollections(view.account); }
  byId('q').value = view.q;
  byId('sort').value = view.sort || defaultSort(view);
  if (!byId('sort').value) byId('sort').value = defaultSort(view);
  byId('layout-grid').setAttribute('aria-pressed', String(view.layout === 'grid'));
  byId('layout-list').setAttribute('aria-pressed', String(view.layout === 'list'));
  byId('grid').classList.toggle('list', view.layout === 'list');
  const editable = canEdit(view.account);
  byId('new-folder').hidden = !editable;
  byId('delete-folder').hidden = !editable || !view.folder;
  for (const b of document.querySelectorAll('[data-bulk]')) b.hidden = !editable;
  fillFilterKinds(view.account);
  renderChips();
  showPanel(view.account, view.asset);
  state.cursor = null;
  renderCrumbs(view.account, known.name, view.folder, searching(view));
  syncTree(view.account, view.folder, accountChanged);
  const here = view.folder ? view.folder.split('/').pop() : known.name;
  byId('folder-title').textContent = view.q ? `Results for “${view.q}” in ${here}`
    : (view.filters.length ? `Filtered: ${here}` : here);
  loadPage();
}

function renderCrumbs(account, accountName, folder, searched) {
  const items = [{ label: accountName, path: '' }];
  let path = '';
  for (const part of folder ? folder.split('/') : []) {
    path = path ? `${path}/${part}` : part;
    items.push({ label: part, path });
  }
  if (searched) items.push({ label: 'Search', path: null });
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

// ---- folder tree --------------------------------------------------------------------------------

/** The folder tree at the side: each level loaded when opened (folders only, 200 a page). */
function syncTree(account, folder, rebuild) {
  const root = byId('tree');
  if (rebuild || root.dataset.account !== String(account)) {
    root.dataset.account = String(account);
    const known = accountOf(account);
    root.replaceChildren(treeNode(account, '', known ? known.name : String(account)));
  }
  // Opens the path to the current folder and marks it.
  const parts = folder ? folder.split('/') : [];
  const paths = [''];
  for (let i = 0; i < parts.length; i += 1) paths.push(parts.slice(0, i + 1).join('/'));
  (async () => {
    for (const p of paths) {
      const node = root.querySelector(`li[data-path="${CSS.escape(p)}"]`);
      if (node) await expand(node, true);
    }
    for (const a of root.querySelectorAll('a[aria-current]')) a.removeAttribute('aria-current');
    const here = root.querySelector(`li[data-path="${CSS.escape(folder)}"] > .tree-row > a`);
    if (here) here.setAttribute('aria-current', 'page');
  })();
}

function treeNode(account, path, label) {
  const li = document.createElement('li');
  li.dataset.path = path;
  const row = document.createElement('div');
  row.className = 'tree-row';
  const toggle = document.createElement('button');
  toggle.type = 'button';
  toggle.className = 'tree-toggle';
  toggle.setAttribute('aria-expanded', 'false');
  toggle.setAttribute('aria-label', `Show the folders in ${label}`);
  toggle.textContent = '▸';
  toggle.addEventListener('click', () => expand(li, toggle.getAttribute('aria-expanded') !== 'true'));
  const a = document.createElement('a');
  a.href = folderHref(account, path);
  a.textContent = label;
  row.append(toggle, a);
  li.append(row);
  return li;
}

async function expand(li, open) {
  const toggle = li.querySelector(':scope > .tree-row > .tree-toggle');
  if (toggle.disabled) return; // known to hold no folders
  toggle.setAttribute('aria-expanded', String(open));
  toggle.textContent = open ? '▾' : '▸';
  let list = li.querySelector(':scope > ul');
  if (!open) { if (list) list.hidden = true; return; }
  if (list) { list.hidden = false; return; }
  list = document.createElement('ul');
  li.append(list);
  const account = Number(byId('tree').dataset.account);
  await loadTreeLevel(account, li.dataset.path, list, null);
}

async function loadTreeLevel(account, path, list, cursor) {
  const params = new URLSearchParams({ type: 'folder', limit: '200' });
  if (path) params.set('path', path);
  if (cursor) params.set('cursor', cursor);
  const res = await api('GET', `/api/v1/accounts/${account}/tree?${params}`);
  if (res.status !== 200) return;
  for (const e of res.data.entries) list.append(treeNode(account, e.path, e.name));
  if (res.data.entries.length === 0 && !cursor) {
    const toggle = list.parentElement.querySelector(':scope > .tree-row > .tree-toggle');
    toggle.disabled = true;
    toggle.removeAttribute('aria-expanded');
    toggle.textContent = '·';
    toggle.setAttribute('aria-label', 'No folders inside');
  }
  if (res.data.nextCursor) {
    const li = document.createElement('li');
    const more = document.createElement('button');
    more.type = 'button';
    more.className = 'link';
    more.textContent = 'More folders…';
    more.addEventListener('click', () => { li.remove(); loadTreeLevel(account, path, list, res.data.nextCursor); });
    li.append(more);
    list.append(li);
  }
}

// ---- the folder or search listing ---------------------------------------------------------------

function listUrl(view) {
  if (!searching(view)) {
    const params = new URLSearchParams({ limit: '200' });
    if (view.folder) params.set('path', view.folder);
    if (state.cursor) params.set('cursor', state.cursor);
    return `/api/v1/accounts/${view.account}/tree?${params}`;
  }
  const params = new URLSearchParams({ limit: '100' });
  if (view.q) params.set('q', view.q);
  for (const [name, value] of view.filters) params.append(name, value);
  const exact = view.filters.some(([name]) => name === 'path');
  if (!view.q && !view.filters.length) {
    // Only sorted: the files of this folder (its folders are in the tree).
    params.set('path', view.folder);
  } else if (!exact && view.folder) {
    params.set('pathPrefix', view.folder);
  }
  if (view.sort) params.set('sort', view.sort);
  if (state.cursor) params.set('cursor', state.cursor);
  return `/api/v1/accounts/${view.account}/assets?${params}`;
}

async function loadPage() {
  const view = state.view;
  if (!view || state.loading === view) return;
  state.loading = view;
  byId('status').textContent = 'Loading…';
  const res = await api('GET', listUrl(view));
  if (state.loading === view) state.loading = null;
  if (state.view !== view) return; // the user went elsewhere meanwhile
  if (res.status === 401) return;
  if (res.status !== 200) {
    byId('status').textContent = problem(res, 'The folder could not be read');
    return;
  }
  const data = res.data;
  const entries = searching(view) ? data.items.map((asset) => ({ type: 'asset', asset })) : data.entries;
  const shown = byId('grid').children.length;
  byId('grid').append(...entries.map((entry, i) => tile(view.account, entry, shown + i)));
  state.cursor = data.nextCursor;
  byId('more').hidden = !state.cursor;
  const count = byId('grid').children.length;
  let empty = 'This folder is empty. Drop files here or use Upload files above.';
  if (view.q || view.filters.length) empty = 'Nothing here matches. Names and tags are matched from their first letters; remove a filter to widen the search.';
  else if (view.sort) empty = 'No files directly in this folder. Its folders are in the tree at the side.';
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

function span(className, text) {
  const el = document.createElement('span');
  el.className = className;
  el.textContent = text;
  return el;
}

/** The first screens' thumbnails are asked for at once; the rest when they near the screen. */
const EAGER_TILES = 24;

function tile(account, entry, index) {
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
    link.append(thumb, name, span('meta', 'Folder'));
    li.append(link);
    return li;
  }
  const asset = entry.asset;
  state.items.set(asset.id, asset);
  li.dataset.kind = 'asset';
  li.dataset.id = asset.id;
  link.href = viewHref({ ...state.view, asset: asset.id });
  link.addEventListener('click', (e) => pickWithModifiers(e, asset.id));
  if (asset.versions && asset.versions.thumbnail) {
    // The thumbnail rendition, never the original.
    const img = document.createElement('img');
    img.src = `/api/v1/accounts/${account}/assets/${encodeURIComponent(asset.id)}/content?version=thumbnail`;
    img.alt = '';
    img.loading = index < EAGER_TILES ? 'eager' : 'lazy';
    thumb.append(img);
  } else {
    thumb.append(icon(typeLabel(asset)));
  }
  name.textContent = asset.name;
  link.append(thumb, name, span('meta', asset.contentType), span('meta', humanSize(asset.size)), span('meta', when(asset.lastModified)));
  if (asset.archivedAt) link.append(span('badge', 'Archived'));
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.className = 'pick-box';
  box.setAttribute('aria-label', `Select ${asset.name}`);
  box.addEventListener('click', (e) => {
    if (e.shiftKey && state.anchor) selectRange(state.anchor, asset.id);
    else toggleSelected(asset.id, box.checked);
    state.anchor = asset.id;
  });
  li.append(box, link);
  return li;
}

// ---- selection --------------------------------------------------------------------------------

/** Ctrl/Cmd-click adds or removes one asset; Shift-click selects the range from the last one. */
function pickWithModifiers(event, id) {
  if (!(event.ctrlKey || event.metaKey || event.shiftKey)) return;
  event.preventDefault();
  if (event.shiftKey && state.anchor) selectRange(state.anchor, id);
  else toggleSelected(id, !state.selected.has(id));
  state.anchor = id;
}

function assetTiles() {
  return [...byId('grid').querySelectorAll('li[data-kind=asset]')];
}

function selectRange(from, to) {
  const ids = assetTiles().map((li) => li.dataset.id);
  const a = ids.indexOf(from);
  const b = ids.indexOf(to);
  if (a < 0 || b < 0) { toggleSelected(to, true); return; }
  for (const id of ids.slice(Math.min(a, b), Math.max(a, b) + 1)) state.selected.add(id);
  renderSelection();
}

function toggleSelected(id, on) {
  if (on) state.selected.add(id);
  else state.selected.delete(id);
  renderSelection();
}

function clearSelection() {
  state.selected.clear();
  state.anchor = null;
  renderSelection();
}

function renderSelection() {
  for (const li of assetTiles()) {
    const on = state.selected.has(li.dataset.id);
    li.classList.toggle('selected', on);
    li.querySelector('.pick-box').checked = on;
  }
  const n = state.selected.size;
  byId('selection').hidden = n === 0;
  byId('selection-count').textContent = `${n} selected`;
  byId('grid').classList.toggle('selecting', n > 0);
}

/** Asks a question in the page's dialog: the text typed (or true), or null when cancelled. */
function ask({ title, text, label, value, ok }) {
  const dialog = byId('ask');
  byId('ask-title').textContent = title;
  byId('ask-text').textContent = text || '';
  byId('ask-field').hidden = !label;
  byId('ask-label').textContent = label || '';
  const input = byId('ask-input');
  input.value = value || '';
  byId('ask-ok').textContent = ok || 'OK';
  return new Promise((resolve) => {
    const done = (answer) => {
      dialog.removeEventListener('close', onClose);
      byId('ask-cancel').onclick = null;
      resolve(answer);
    };
    const onClose = () => done(dialog.returnValue === 'ok' ? (label ? input.value : true) : null);
    dialog.addEventListener('close', onClose);
    byId('ask-cancel').onclick = () => dialog.close('cancel');
    dialog.returnValue = '';
    dialog.showModal();
    (label ? input : byId('ask-ok')).focus();
  });
}

const splitList = (text) => text.split(',').map((t) => t.trim()).filter((t) => t !== '');

/** Runs one change per selected asset (four at a time) and says how it went. */
async function bulk(kind) {
  const view = state.view;
  const ids = [...state.selected];
  if (!view || ids.length === 0) return;
  const base = `/api/v1/accounts/${view.account}/assets`;
  const n = `${ids.length} asset${ids.length === 1 ? '' : 's'}`;
  let change;
  if (kind === 'tag' || kind === 'untag') {
    const text = await ask({ title: kind === 'tag' ? `Add tags to ${n}` : `Remove tags from ${n}`, label: 'Tags, separated by commas', ok: kind === 'tag' ? 'Add tags' : 'Remove tags' });
    const tags = text === null ? [] : splitList(text);
    if (tags.length === 0) return;
    const fold = (t) => t.toLowerCase();
    change = (asset) => {
      const have = asset.tags || [];
      const next = kind === 'tag'
        ? [...have, ...tags.filter((t) => !have.some((h) => fold(h) === fold(t)))]
        : have.filter((h) => !tags.some((t) => fold(t) === fold(h)));
      return ['PATCH', `${base}/${encodeURIComponent(asset.id)}`, { tags: next }];
    };
  } else if (kind === 'approve' || kind === 'archive' || kind === 'unarchive') {
    const body = kind === 'approve' ? { approved: true } : { archived: kind === 'archive' };
    change = (asset) => ['PATCH', `${base}/${encodeURIComponent(asset.id)}`, body];
  } else if (kind === 'move' || kind === 'copy') {
    const folder = await ask({ title: `${kind === 'move' ? 'Move' : 'Copy'} ${n}`, label: 'To the folder (empty for the top)', value: view.folder, ok: kind === 'move' ? 'Move' : 'Copy' });
    if (folder === null) return;
    const to = folder.trim().replace(/^\/+|\/+$/g, '');
    change = (asset) => {
      const key = to ? `${to}/${asset.name}` : asset.name;
      return kind === 'move'
        ? ['PATCH', `${base}/${encodeURIComponent(asset.id)}`, { key }]
        : ['POST', `${base}/${encodeURIComponent(asset.id)}/copy`, { destinationKey: key }];
    };
  } else if (kind === 'delete') {
    const sure = await ask({ title: `Delete ${n}?`, text: 'Their public URLs stop working at once. This cannot be undone.', ok: 'Delete' });
    if (!sure) return;
    const res = await api('POST', `${base}/batch-delete`, { ids });
    const failed = res.status === 200 ? res.data.failed : ids.map((id) => ({ id, detail: problem(res, 'Refused') }));
    finishBulk(ids.length - failed.length, failed.map((f) => `${nameOf(f.id || f.key)}: ${f.detail}`));
    return;
  } else {
    return;
  }
  const failures = [];
  let done = 0;
  const queue = [...ids];
  const worker = async () => {
    while (queue.length) {
      const id = queue.shift();
      const asset = state.items.get(id);
      if (!asset) continue;
      const [method, path, body] = change(asset);
      const res = await api(method, path, body);
      if (res.status >= 200 && res.status < 300) done += 1;
      else failures.push(`${asset.name}: ${problem(res, 'Refused')}`);
    }
  };
  byId('status').textContent = 'Working…';
  await Promise.all([worker(), worker(), worker(), worker()]);
  finishBulk(done, failures);
}

function nameOf(id) {
  const asset = state.items.get(id);
  return asset ? asset.name : id;
}

async function finishBulk(done, failures) {
  const message = `${done} changed${failures.length ? `; ${failures.length} refused: ${failures.join('; ')}` : '.'}`;
  // The reload says how many items there are (or that the folder went with its last file);
  // the outcome is said after it.
  await refreshFolder();
  byId('status').textContent = message;
}

// ---- filters ----------------------------------------------------------------------------------

function fillFilterKinds(account) {
  const owner = roleIn(account) === 'owner';
  const select = byId('filter-kind');
  const current = select.value;
  select.replaceChildren(...FILTERS.filter((f) => owner || !f.owner).map((f) => {
    const option = document.createElement('option');
    option.value = f.key;
    option.textContent = f.label;
    return option;
  }));
  if ([...select.options].some((o) => o.value === current)) select.value = current;
  filterEditor();
}

function input(id, label, attrs) {
  const el = document.createElement('input');
  el.id = id;
  el.setAttribute('aria-label', label);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  return el;
}

/** The value part of the filter form for the chosen filter. */
function filterEditor() {
  const f = filterOf(byId('filter-kind').value);
  const box = byId('filter-value-box');
  box.replaceChildren();
  if (!f) return;
  if (f.kind === 'text') box.append(input('filter-value', `${f.label} value`, { maxlength: '128', autocomplete: 'off' }));
  if (f.kind === 'meta') {
    box.append(input('filter-meta-key', 'Metadata key', { maxlength: '128', placeholder: 'key', autocomplete: 'off' }),
      input('filter-value', 'Metadata value', { maxlength: '1024', placeholder: 'value', autocomplete: 'off' }));
  }
  if (f.kind === 'type') {
    const el = input('filter-value', 'Content type', { list: 'type-presets', placeholder: 'image/*', autocomplete: 'off' });
    const list = document.createElement('datalist');
    list.id = 'type-presets';
    for (const t of ['image/*', 'video/*', 'audio/*', 'font/*', 'text/*', 'application/pdf', 'application/zip']) {
      const o = document.createElement('option');
      o.value = t;
      list.append(o);
    }
    box.append(el, list);
  }
  if (f.kind === 'bool') {
    const select = document.createElement('select');
    select.id = 'filter-value';
    select.setAttribute('aria-label', `${f.label}?`);
    for (const [v, t] of [['true', 'yes'], ['false', 'no']]) {
      const o = document.createElement('option');
      o.value = v;
      o.textContent = t;
      select.append(o);
    }
    box.append(select);
  }
  if (f.kind === 'date') box.append(input('filter-value', `${f.label} (date)`, { type: 'date' }));
  if (f.kind === 'collection') {
    const select = document.createElement('select');
    select.id = 'filter-value';
    select.setAttribute('aria-label', 'Collection');
    for (const c of state.collections.values()) {
      const o = document.createElement('option');
      o.value = c.id;
      o.textContent = c.name;
      select.append(o);
    }
    if (select.options.length === 0) {
      const o = document.createElement('option');
      o.value = '';
      o.textContent = 'No collections yet';
      select.append(o);
    }
    box.append(select);
  }
}

function addFilter(event) {
  event.preventDefault();
  const view = state.view;
  const f = filterOf(byId('filter-kind').value);
  if (!view || !f) return;
  const valueEl = byId('filter-value');
  let value = valueEl ? valueEl.value.trim() : '';
  let name = f.key;
  if (f.kind === 'mine') value = 'me';
  if (f.kind === 'here') value = view.folder;
  if (f.kind === 'date' && value) value = f.key === 'createdMin' ? `${value}T00:00:00Z` : `${value}T23:59:59.999Z`;
  if (f.kind === 'meta') {
    const key = byId('filter-meta-key').value.trim();
    if (!key) { byId('status').textContent = 'Enter a metadata key.'; byId('filter-meta-key').focus(); return; }
    name = `meta.${key}`;
  }
  if (!value && f.kind !== 'here') { byId('status').textContent = `Enter a value for ${f.label}.`; if (valueEl) valueEl.focus(); return; }
  let filters = view.filters.filter(([n, v]) => !(n === name && (!f.repeat || v === value)));
  filters = [...filters, [name, value]];
  go({ filters, asset: '' });
}

function chipLabel(name, value) {
  const f = filterOf(name);
  if (f.kind === 'meta') return `Metadata: ${name.slice(5)} = ${value}`;
  if (f.kind === 'bool') return `${f.label}: ${value === 'true' ? 'yes' : 'no'}`;
  if (f.kind === 'mine') return value === 'me' ? f.label : `Favourites of ${value}`;
  if (f.kind === 'here') return `Only in ${value || 'the top folder'}`;
  if (f.kind === 'date') return `${f.label}: ${value.slice(0, 10)}`;
  if (f.kind === 'collection') {
    const c = state.collections.get(value);
    return `${f.label}: ${c ? c.name : value}`;
  }
  return `${f.label}: ${value}`;
}

function renderChips() {
  const view = state.view;
  byId('chips').replaceChildren(...view.filters.map(([name, value], i) => {
    const li = document.createElement('li');
    li.className = 'chip';
    const label = chipLabel(name, value);
    li.append(span('chip-label', label));
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'chip-remove';
    remove.textContent = '×';
    remove.setAttribute('aria-label', `Remove filter ${label}`);
    remove.addEventListener('click', () => go({ filters: view.filters.filter((_, j) => j !== i), asset: '' }));
    li.append(remove);
    return li;
  }));
}

async function loadCollections(account) {
  const res = await api('GET', `/api/v1/accounts/${account}/collections?limit=1000`);
  if (res.status !== 200 || !state.view || state.view.account !== account) return;
  for (const c of res.data.items) state.collections.set(c.id, c);
  renderChips();
  filterEditor();
}

// ---- the asset panel --------------------------------------------------------------------------

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

/** An RFC 3339 time as a `datetime-local` value (local time), and back. */
function toLocalInput(t) {
  if (!t) return '';
  const d = new Date(t);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function fromLocalInput(value) {
  return value ? new Date(value).toISOString() : null;
}

const contentPath = (asset, version) => `/api/v1/accounts/${asset.accountId}/assets/${encodeURIComponent(asset.id)}/content`
  + (version ? `?version=${version}` : '');

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
  const res = await api('GET', `/api/v1/accounts/${account}/assets/${encodeURIComponent(id)}`);
  if (state.panel !== id) return;
  if (res.status === 401) return;
  if (res.status !== 200) {
    state.asset = null;
    byId('panel-title').textContent = 'Not found';
    byId('preview').replaceChildren();
    byId('facts').replaceChildren();
    byId('public-url').value = '';
    for (const f of ['edit-form', 'rename-form', 'copy-form', 'delete-asset']) byId(f).hidden = true;
    byId('panel-status').textContent = problem(res, 'The asset could not be read');
    return;
  }
  fillPanel(res.data, res.etag);
  byId('panel-status').textContent = '';
  byId('panel-close').focus();
}

function fillPanel(asset, etag) {
  state.asset = asset;
  state.etag = etag;
  state.items.set(asset.id, asset);
  byId('panel-title').textContent = asset.name;
  byId('preview').replaceChildren(preview(asset));
  byId('facts').replaceChildren(...facts(asset));
  byId('public-url').value = asset.url;
  byId('download').href = `${contentPath(asset, '')}`;
  byId('download').setAttribute('download', asset.name);
  const fav = byId('favorite');
  fav.setAttribute('aria-pressed', String(!!asset.favorite));
  fav.textContent = asset.favorite ? '★ Favourite' : '☆ Favourite';
  const editable = canEdit(asset.accountId);
  for (const f of ['edit-form', 'rename-form', 'copy-form', 'delete-asset']) byId(f).hidden = !editable;
  if (!editable) return;
  byId('edit-tags').value = asset.tags.join(', ');
  byId('edit-skus').value = asset.skus.join(', ');
  byId('edit-metadata').value = Object.entries(asset.metadata).map(([k, v]) => `${k}: ${v}`).join('\n');
  byId('edit-batch').value = asset.batchId || '';
  byId('edit-approved').checked = !!asset.approvedAt;
  byId('edit-sensitive').checked = !!asset.sensitiveAt;
  byId('edit-archived').checked = !!asset.archivedAt;
  byId('edit-expires').value = toLocalInput(asset.expiresAt);
  byId('edit-license').value = toLocalInput(asset.licenseExpiresAt);
  const box = byId('edit-collections');
  const legend = box.querySelector('legend');
  const known = [...state.collections.values()];
  for (const id of asset.collectionIds) if (!state.collections.has(id)) known.push({ id, name: id });
  box.replaceChildren(legend, ...known.map((c) => {
    const label = document.createElement('label');
    label.className = 'check';
    const check = document.createElement('input');
    check.type = 'checkbox';
    check.value = c.id;
    check.checked = asset.collectionIds.includes(c.id);
    label.append(check, document.createTextNode(` ${c.name}`));
    return label;
  }));
  if (known.length === 0) box.append(span('hint', 'No collections yet: make one under Collections.'));
  byId('rename-key').value = asset.key;
  const dot = asset.name.lastIndexOf('.');
  const copyName = dot > 0 ? `${asset.name.slice(0, dot)} copy${asset.name.slice(dot)}` : `${asset.name} copy`;
  byId('copy-key-to').value = asset.path ? `${asset.path}/${copyName}` : copyName;
}

/** A preview fit for the type: the web or thumbnail rendition of an image or a PDF's first
 * page, a player for video and audio, a specimen of a font, the first 64 KB of text; else the
 * type's label. Never the original of an image. */
function preview(asset) {
  const type = asset.contentType || '';
  const versions = asset.versions || {};
  const family = type.split('/')[0];
  const ext = asset.name.slice(asset.name.lastIndexOf('.') + 1).toLowerCase();
  if (versions.web || versions.thumbnail) {
    const img = document.createElement('img');
    img.src = contentPath(asset, versions.web ? 'web' : 'thumbnail');
    img.alt = `Preview of ${asset.name}`;
    return img;
  }
  if (family === 'video' || family === 'audio') {
    const player = document.createElement(family);
    player.controls = true;
    player.preload = 'metadata';
    player.src = contentPath(asset, '');
    player.setAttribute('aria-label', `Play ${asset.name}`);
    return player;
  }
  if (family === 'font' || ['ttf', 'otf', 'woff', 'woff2'].includes(ext)) return fontSpecimen(asset);
  if (type === 'application/pdf') {
    // No page picture was made (no PDF renderer on the server): the browser's own viewer.
    const a = document.createElement('a');
    a.href = contentPath(asset, '');
    a.target = '_blank';
    a.rel = 'noopener';
    a.className = 'button secondary';
    a.textContent = 'Open the PDF';
    return a;
  }
  if (type.startsWith('text/') || type === 'application/json' || ['svg', 'csv', 'txt', 'md', 'json', 'css', 'html', 'js'].includes(ext)) {
    const pre = document.createElement('pre');
    pre.textContent = 'Loading…';
    fetch(contentPath(asset, ''), { headers: { Range: 'bytes=0-65535' }, credentials: 'same-origin' })
      .then((res) => (res.ok ? res.text() : Promise.reject(new Error(String(res.status)))))
      .then((text) => { pre.textContent = text; })
      .catch(() => { pre.textContent = 'The text could not be read.'; });
    return pre;
  }
  return icon(typeLabel(asset));
}

let fontCount = 0;

/** The font itself, loaded from the server (font-src 'self'), setting a few lines of text. */
function fontSpecimen(asset) {
  const box = document.createElement('div');
  box.className = 'specimen';
  box.textContent = 'Loading the font…';
  fontCount += 1;
  const family = `assetlib-specimen-${fontCount}`;
  const face = new FontFace(family, `url("${contentPath(asset, '')}")`);
  face.load().then((loaded) => {
    document.fonts.add(loaded);
    box.replaceChildren();
    box.style.fontFamily = `"${family}", system-ui`;
    for (const [size, text] of [[40, 'Aa Bb Cc 0123'], [24, 'The quick brown fox jumps over the lazy dog'], [16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz 0123456789 !?&']]) {
      const line = document.createElement('p');
      line.style.fontSize = `${size}px`;
      line.textContent = text;
      box.append(line);
    }
  }).catch(() => { box.textContent = 'This font could not be shown.'; });
  return box;
}

/** The asset's attributes and versions as definition list entries, all as text. */
function facts(asset) {
  const rows = [
    ['Key', asset.key],
    ['Folder', asset.path || '(top)'],
    ['Type', asset.contentType],
    ['Size', humanSize(asset.size)],
    ['Created', when(asset.createdAt)],
    ['Created by', asset.createdBy || '—'],
    ['Content hash', asset.hash],
    ['Modified', when(asset.lastModified)],
    ['Tags', asset.tags.length ? asset.tags.join(', ') : '—'],
    ['SKUs', asset.skus.length ? asset.skus.join(', ') : '—'],
  ];
  for (const [key, value] of Object.entries(asset.metadata)) rows.push([`Metadata: ${key}`, value]);
  const collections = asset.collectionIds.map((id) => (state.collections.get(id) || { name: id }).name);
  rows.push(
    ['Collections', collections.length ? collections.join(', ') : '—'],
    ['Batch', asset.batchId || '—'],
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

/** Sends a change of the open asset (with its ETag, so a change made meanwhile is not
 * overwritten) and shows the result. */
async function patchAsset(body, done) {
  const asset = state.asset;
  if (!asset) return false;
  const path = `/api/v1/accounts/${asset.accountId}/assets/${encodeURIComponent(asset.id)}`;
  const res = await api('PATCH', path, body, state.etag ? { 'If-Match': state.etag } : {});
  if (res.status === 200) {
    fillPanel(res.data, res.etag);
    byId('panel-status').textContent = done;
    return true;
  }
  byId('panel-status').textContent = res.status === 412
    ? 'Someone changed this asset meanwhile: it has been reloaded, make your change again.'
    : problem(res, 'The change was refused');
  if (res.status === 412) showPanel(asset.accountId, asset.id);
  return false;
}

function metadataOf(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const colon = line.indexOf(':');
    if (colon < 1) return { error: `“${line.trim()}” is not “key: value”.` };
    out[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return { value: out };
}

async function saveEdits(event) {
  event.preventDefault();
  const asset = state.asset;
  if (!asset) return;
  const meta = metadataOf(byId('edit-metadata').value);
  if (meta.error) { byId('panel-status').textContent = meta.error; byId('edit-metadata').focus(); return; }
  // Metadata is a merge patch: keys no longer listed are removed (null).
  const metadata = { ...meta.value };
  for (const key of Object.keys(asset.metadata)) if (!(key in metadata)) metadata[key] = null;
  const body = {
    tags: splitList(byId('edit-tags').value),
    skus: splitList(byId('edit-skus').value),
    metadata,
    collectionIds: [...byId('edit-collections').querySelectorAll('input:checked')].map((c) => c.value),
    batchId: byId('edit-batch').value.trim() || null,
    approved: byId('edit-approved').checked,
    sensitive: byId('edit-sensitive').checked,
    archived: byId('edit-archived').checked,
    expiresAt: fromLocalInput(byId('edit-expires').value),
    licenseExpiresAt: fromLocalInput(byId('edit-license').value),
  };
  if (await patchAsset(body, 'Saved.')) refreshTile(state.asset);
}

async function toggleFavorite() {
  const asset = state.asset;
  if (!asset) return;
  await patchAsset({ favorite: !asset.favorite }, asset.favorite ? 'Removed from your favourites.' : 'Added to your favourites.');
}

async function renameAsset(event) {
  event.preventDefault();
  const key = byId('rename-key').value.trim();
  if (!state.asset || !key || key === state.asset.key) return;
  if (await patchAsset({ key }, `Now at ${key}.`)) refreshFolder(true);
}

async function copyAsset(event) {
  event.preventDefault();
  const asset = state.asset;
  const destinationKey = byId('copy-key-to').value.trim();
  if (!asset || !destinationKey) return;
  const res = await api('POST', `/api/v1/accounts/${asset.accountId}/assets/${encodeURIComponent(asset.id)}/copy`, { destinationKey });
  byId('panel-status').textContent = res.status === 201 || res.status === 200
    ? `Copied to ${res.data.key}.` : problem(res, 'The copy was refused');
  if (res.status === 201 || res.status === 200) refreshFolder(true);
}

async function deleteAsset() {
  const asset = state.asset;
  if (!asset) return;
  const sure = await ask({ title: `Delete ${asset.name}?`, text: 'Its public URL stops working at once. This cannot be undone.', ok: 'Delete' });
  if (!sure) { byId('delete-asset').focus(); return; }
  const res = await api('DELETE', `/api/v1/accounts/${asset.accountId}/assets/${encodeURIComponent(asset.id)}`);
  if (res.status === 204) {
    state.asset = null;
    go({ asset: '' });
    refreshFolder();
    byId('status').textContent = `${asset.name} was deleted.`;
  } else {
    byId('panel-status').textContent = problem(res, 'The delete was refused');
  }
}

/** Redraws the tile of a changed asset in place. */
function refreshTile(asset) {
  const old = byId('grid').querySelector(`li[data-id="${CSS.escape(asset.id)}"]`);
  if (old && state.view) old.replaceWith(tile(state.view.account, { type: 'asset', asset }, EAGER_TILES));
  renderSelection();
}

async function copy(inputId, button, statusId) {
  const input = byId(inputId);
  const status = byId(statusId || 'panel-status');
  try {
    await navigator.clipboard.writeText(input.value);
    status.textContent = 'Copied.';
  } catch (e) {
    input.select();
    status.textContent = 'Selected: press Ctrl+C (or Cmd+C) to copy.';
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
  const res = await api('POST', path, body);
  if (res.status === 201 || res.status === 200) {
    byId('signed-url').value = res.data.url;
    byId('signed-line').hidden = false;
    byId('panel-status').textContent = `Link made, valid until ${when(res.data.expiresAt)}.`;
  } else {
    byId('panel-status').textContent = problem(res, 'The link could not be made');
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

// ---- collections --------------------------------------------------------------------------------

const pages = { collections: null, keys: null };

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

function button(text, label, onClick, className) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.className = className || 'secondary';
  if (label) b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}

async function showCollections(account, cursor) {
  if (!accountOf(account)) {
    byId('collection-rows').replaceChildren();
    byId('collections-status').textContent = 'There is no such account for you.';
    byId('collection-form').hidden = true;
    return;
  }
  pages.collections = account;
  byId('collection-form').hidden = !canEdit(account);
  if (!cursor) byId('collection-rows').replaceChildren();
  const params = new URLSearchParams({ limit: '100' });
  if (cursor) params.set('cursor', cursor);
  const res = await api('GET', `/api/v1/accounts/${account}/collections?${params}`);
  if (pages.collections !== account) return;
  if (res.status !== 200) { byId('collections-status').textContent = problem(res, 'The collections could not be read'); return; }
  const editable = canEdit(account);
  byId('collection-rows').append(...res.data.items.map((c) => {
    state.collections.set(c.id, c);
    const tr = document.createElement('tr');
    const name = document.createElement('td');
    const a = document.createElement('a');
    a.href = viewHref({ account, folder: '', q: '', filters: [['collectionId', c.id]], sort: '', layout: 'grid', asset: '' });
    a.textContent = c.name;
    name.append(a);
    const actions = document.createElement('td');
    if (editable) {
      actions.append(
        button('Rename…', `Rename ${c.name}`, () => renameCollection(account, c)),
        button('Delete…', `Delete ${c.name}`, () => deleteCollection(account, c), 'secondary danger'),
      );
    }
    tr.append(name, cell(c.description || '—'), cell(String(c.assetCount)), cell(when(c.createdAt)), actions);
    return tr;
  }));
  const count = byId('collection-rows').children.length;
  byId('collections-status').textContent = count === 0
    ? 'No collections yet. Make one above, then add assets to it from their panel.'
    : `${count} collection${count === 1 ? '' : 's'}`;
  const more = byId('collections-more');
  more.hidden = !res.data.nextCursor;
  more.onclick = () => showCollections(account, res.data.nextCursor);
}

async function createCollection(event) {
  event.preventDefault();
  const account = pages.collections;
  const name = byId('collection-name').value.trim();
  if (!name) { byId('collections-status').textContent = 'Enter a name.'; byId('collection-name').focus(); return; }
  const description = byId('collection-description').value.trim();
  const res = await api('POST', `/api/v1/accounts/${account}/collections`, { name, description });
  if (res.status === 201) {
    byId('collection-name').value = '';
    byId('collection-description').value = '';
    await showCollections(account);
    byId('collections-status').textContent = `Collection ${res.data.name} made.`;
  } else {
    byId('collections-status').textContent = problem(res, 'The collection could not be made');
  }
}

async function renameCollection(account, c) {
  const name = await ask({ title: `Rename ${c.name}`, label: 'New name', value: c.name, ok: 'Rename' });
  if (name === null || !name.trim()) return;
  const res = await api('PATCH', `/api/v1/accounts/${account}/collections/${encodeURIComponent(c.id)}`, { name: name.trim() });
  await showCollections(account);
  byId('collections-status').textContent = res.status === 200 ? 'Renamed.' : problem(res, 'The rename was refused');
}

async function deleteCollection(account, c) {
  const sure = await ask({ title: `Delete the collection ${c.name}?`, text: 'Its assets stay in the library; only the collection goes.', ok: 'Delete' });
  if (!sure) return;
  const res = await api('DELETE', `/api/v1/accounts/${account}/collections/${encodeURIComponent(c.id)}`);
  state.collections.delete(c.id);
  await showCollections(account);
  byId('collections-status').textContent = res.status === 204 ? `${c.name} was deleted.` : problem(res, 'The delete was refused');
}

// ---- API keys (owners) ----------------------------------------------------------------------------

async function showKeys(account, cursor) {
  byId('key-secret').hidden = true;
  if (roleIn(account) !== 'owner') {
    byId('key-rows').replaceChildren();
    byId('key-form').hidden = true;
    byId('keys-status').textContent = 'Only an owner of this account manages its keys.';
    return;
  }
  pages.keys = account;
  byId('key-form').hidden = false;
  if (!cursor) byId('key-rows').replaceChildren();
  const params = new URLSearchParams({ limit: '100' });
  if (cursor) params.set('cursor', cursor);
  const res = await api('GET', `/api/v1/accounts/${account}/keys?${params}`);
  if (pages.keys !== account) return;
  if (res.status !== 200) { byId('keys-status').textContent = problem(res, 'The keys could not be read'); return; }
  byId('key-rows').append(...res.data.items.map((k) => {
    const tr = document.createElement('tr');
    const actions = document.createElement('td');
    actions.append(button('Revoke…', `Revoke ${k.name}`, () => revokeKey(account, k), 'secondary danger'));
    const user = k.userId === state.user.id ? `${k.userId} (you)` : k.userId;
    tr.append(cell(k.name), cell(user), cell(k.readOnly ? 'read only' : 'read and write'), cell(when(k.createdAt)), cell(k.lastUsedAt ? when(k.lastUsedAt) : 'never'), actions);
    return tr;
  }));
  const count = byId('key-rows').children.length;
  byId('keys-status').textContent = `${count} key${count === 1 ? '' : 's'}`;
  const more = byId('keys-more');
  more.hidden = !res.data.nextCursor;
  more.onclick = () => showKeys(account, res.data.nextCursor);
}

async function createKey(event) {
  event.preventDefault();
  const account = pages.keys;
  const name = byId('key-name').value.trim();
  if (!name) { byId('keys-status').textContent = 'Enter a name.'; byId('key-name').focus(); return; }
  const res = await api('POST', `/api/v1/accounts/${account}/keys`, { name, readOnly: byId('key-read-only').checked });
  if (res.status !== 201) { byId('keys-status').textContent = problem(res, 'The key could not be made'); return; }
  byId('key-name').value = '';
  byId('key-read-only').checked = false;
  await showKeys(account);
  // Shown once, here; it is dropped from the page when the owner is done with it.
  byId('key-secret-value').value = res.data.key;
  byId('key-secret').hidden = false;
  byId('keys-status').textContent = `Key ${res.data.name} made.`;
  byId('key-secret-value').focus();
  byId('key-secret-value').select();
}

function forgetSecret() {
  byId('key-secret-value').value = '';
  byId('key-secret').hidden = true;
  byId('key-name').focus();
}

async function revokeKey(account, k) {
  const sure = await ask({ title: `Revoke the key ${k.name}?`, text: 'Every program using it is refused from now on. This cannot be undone.', ok: 'Revoke' });
  if (!sure) return;
  const res = await api('DELETE', `/api/v1/accounts/${account}/keys/${encodeURIComponent(k.id)}`);
  if (res.status === 401) return; // the key of this very session
  await showKeys(account);
  byId('keys-status').textContent = res.status === 204 ? `${k.name} was revoked.` : problem(res, 'The revoke was refused');
}

// ---- folders, sign in and out, wiring ------------------------------------------------------------

/** Reloads the listing (and the folder tree) of the view on screen. */
function refreshFolder() {
  const view = state.view;
  if (!view) return Promise.resolve();
  state.view = { ...view };
  byId('grid').replaceChildren();
  state.items.clear();
  clearSelection();
  state.cursor = null;
  syncTree(view.account, view.folder, true);
  return loadPage();
}

async function newFolder() {
  const view = state.view;
  if (!view) return;
  const name = await ask({ title: 'New folder', label: `Name of the folder in ${view.folder || 'the top folder'}`, ok: 'Create' });
  if (name === null || !name.trim()) return;
  const path = view.folder ? `${view.folder}/${name.trim()}` : name.trim();
  const res = await api('POST', `/api/v1/accounts/${view.account}/folders`, { path });
  if (res.status === 201) location.hash = folderHref(view.account, res.data.path);
  else byId('status').textContent = problem(res, 'The folder could not be made');
}

async function deleteFolder() {
  const view = state.view;
  if (!view || !view.folder) return;
  const sure = await ask({ title: `Delete the folder ${view.folder}?`, text: 'Everything in it and below it is deleted, and its public URLs stop working. This cannot be undone.', ok: 'Delete folder' });
  if (!sure) return;
  const params = new URLSearchParams({ path: view.folder, recursive: 'true' });
  const res = await api('DELETE', `/api/v1/accounts/${view.account}/folders?${params}`);
  if (res.status === 204) {
    const parent = view.folder.split('/').slice(0, -1).join('/');
    state.view = null;
    location.hash = folderHref(view.account, parent);
  } else {
    byId('status').textContent = problem(res, 'The folder could not be deleted');
  }
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
  const res = await api('POST', '/api/v1/session', { key });
  if (res.status === 201) {
    input.value = '';
    enter(res.data);
    byId('main').focus();
  } else {
    error.textContent = problem(res, 'Signing in failed');
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
  if (!state.view) return;
  go({ q: byId('q').value.trim(), asset: '' });
}

/** The panel opens below the header bar, whose height changes with the window's width. */
function measureBar() {
  document.documentElement.style.setProperty('--bar-height', `${document.querySelector('.bar').offsetHeight}px`);
}

async function start() {
  measureBar();
  window.addEventListener('resize', measureBar);
  byId('signin-form').addEventListener('submit', signIn);
  byId('search-form').addEventListener('submit', search);
  byId('filter-form').addEventListener('submit', addFilter);
  byId('filter-kind').addEventListener('change', filterEditor);
  byId('sort').addEventListener('change', (e) => {
    const sort = e.target.value === defaultSort(state.view) ? '' : e.target.value;
    go({ sort, asset: '' });
  });
  byId('layout-grid').addEventListener('click', () => go({ layout: 'grid' }));
  byId('layout-list').addEventListener('click', () => go({ layout: 'list' }));
  byId('link-form').addEventListener('submit', makeLink);
  byId('edit-form').addEventListener('submit', saveEdits);
  byId('rename-form').addEventListener('submit', renameAsset);
  byId('copy-form').addEventListener('submit', copyAsset);
  byId('delete-asset').addEventListener('click', deleteAsset);
  byId('favorite').addEventListener('click', toggleFavorite);
  byId('new-folder').addEventListener('click', newFolder);
  byId('delete-folder').addEventListener('click', deleteFolder);
  for (const b of document.querySelectorAll('[data-bulk]')) b.addEventListener('click', () => bulk(b.dataset.bulk));
  byId('select-all').addEventListener('click', () => {
    for (const li of assetTiles()) state.selected.add(li.dataset.id);
    renderSelection();
  });
  byId('select-none').addEventListener('click', clearSelection);
  byId('collection-form').addEventListener('submit', createCollection);
  byId('key-form').addEventListener('submit', createKey);
  byId('copy-key').addEventListener('click', (e) => copy('key-secret-value', e.target, 'keys-status'));
  byId('key-secret-done').addEventListener('click', forgetSecret);
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
    if (e.key === 'Escape' && !byId('panel').hidden && !byId('ask').open) location.hash = byId('panel-close').getAttribute('href');
  });
  byId('sign-out').addEventListener('click', signOut);
  byId('more').addEventListener('click', loadPage);
  // The next page comes when the end of the list scrolls into sight (the button stays for
  // keyboards).
  new IntersectionObserver((seen) => {
    if (seen.some((e) => e.isIntersecting) && !byId('more').hidden) loadPage();
  }, { rootMargin: '400px' }).observe(byId('more'));
  byId('account').addEventListener('change', (e) => { location.hash = folderHref(e.target.value, ''); });
  window.addEventListener('hashchange', route);
  const res = await api('GET', '/api/v1/session');
  if (res.status === 200) enter(res.data);
  else signedOut();
}

document.addEventListener('DOMContentLoaded', start);
