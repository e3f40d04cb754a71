
(() => {
  'use strict';

  const body = document.body;
  const canWrite = body.dataset.canWrite === 'true';
  const maxBytes = Number(body.dataset.maxBytes);
  const $ = (selector) => document.querySelector(selector);

  // Absolute URLs built from the origin: if the page was opened as http://user:pass@host/,
  // relative URLs would inherit the credentials and browsers refuse such requests. Without
  // them the browser sends the credentials it used for the page.
  const api = (path) => new URL(path, window.location.origin).href;

  function formatSize(bytes) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return (unit === 0 ? String(value) : value.toFixed(value < 10 ? 2 : 1)) + ' ' + units[unit];
  }

  function element(tag, properties, children) {
    const node = document.createElement(tag);
    Object.assign(node, properties || {});
    for (const child of children || []) {
      node.append(child);
    }
    return node;
  }

  function errorMessage(status, text) {
    try {
      const parsed = JSON.parse(text);
      if (parsed && parsed.error) {
        return parsed.error;
      }
    } catch (_) {
      // Not JSON: fall through.
    }
    return 'HTTP ' + status + (text ? ': ' + text.slice(0, 200) : '');
  }

  // ---- file list ----------------------------------------------------------------------------

  const listStatus = $('#list-status');
  const tbody = $('#files tbody');

  async function refresh() {
    try {
      const response = await fetch(api('/files'), {
        headers: { Accept: 'application/json' },
        credentials: 'same-origin',
        cache: 'no-store',
      });
      const text = await response.text();
      if (!response.ok) {
        throw new Error(errorMessage(response.status, text));
      }
      render(JSON.parse(text));
      listStatus.textContent = '';
      listStatus.classList.remove('error');
    } catch (error) {
      listStatus.textContent = 'Could not load the file list: ' + error.message;
      listStatus.classList.add('error');
    }
  }

  function render(files) {
    tbody.replaceChildren();
    if (files.length === 0) {
      tbody.append(element('tr', {}, [element('td', { className: 'empty', colSpan: 5, textContent: 'No files yet.' })]));
      return;
    }
    for (const file of files) {
      const uploaded = new Date(file.uploaded_at);
      const download = element('a', {
        className: 'button download',
        href: api('/download/' + encodeURIComponent(file.name)),
        textContent: 'Download',
        download: file.name,
      });
      const actions = element('td', { className: 'actions' }, [download]);
      if (canWrite) {
        const remove = element('button', { type: 'button', className: 'danger', textContent: 'Delete' });
        remove.addEventListener('click', () => removeFile(file.name));
        actions.append(remove);
      }
      const row = element('tr', {}, [
        element('td', { className: 'name', textContent: file.name }),
        element('td', { className: 'num', textContent: formatSize(file.size), title: file.size + ' bytes' }),
        element('td', {}, [element('time', { dateTime: file.uploaded_at, textContent: uploaded.toLocaleString() })]),
        element('td', {
          className: 'sha',
          textContent: file.sha256 ? file.sha256.slice(0, 12) + '…' : '—',
          title: file.sha256 || 'not recorded',
        }),
        actions,
      ]);
      row.dataset.name = file.name;
      tbody.append(row);
    }
  }

  async function removeFile(name) {
    if (!window.confirm('Delete ' + name + '?')) {
      return;
    }
    const response = await fetch(api('/files/' + encodeURIComponent(name)), {
      method: 'DELETE',
      credentials: 'same-origin',
    });
    if (!response.ok && response.status !== 404) {
      listStatus.textContent = 'Could not delete ' + name + ': ' + errorMessage(response.status, await response.text());
      listStatus.classList.add('error');
      return;
    }
    refresh();
  }

  // ---- uploads ------------------------------------------------------------------------------

  const transfers = $('#transfers');

  function upload(file) {
    const progress = element('progress', { max: 100, value: 0 });
    const state = element('span', { className: 'state', textContent: 'Waiting…' });
    const cancel = element('button', { type: 'button', className: 'secondary', textContent: 'Cancel' });
    const item = element('li', {}, [element('span', { className: 'name', textContent: file.name }), progress, cancel, state]);
    item.dataset.name = file.name;
    transfers.prepend(item);

    const fail = (message) => {
      item.classList.add('failed');
      state.textContent = 'Failed: ' + message;
      cancel.remove();
    };
    if (!/\.(tgz|tar\.gz)$/i.test(file.name)) {
      fail('only .tgz and .tar.gz files are accepted');
      return;
    }
    if (file.size > maxBytes) {
      fail('the file is larger than the limit of ' + formatSize(maxBytes));
      return;
    }

    const form = new FormData();
    form.append('diag', file, file.name);
    const request = new XMLHttpRequest();
    request.open('POST', api('/upload'));
    request.withCredentials = true;
    request.setRequestHeader('Accept', 'application/json');
    request.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable && event.total > 0) {
        const percent = Math.min(100, (event.loaded / event.total) * 100);
        progress.value = percent;
        state.textContent = percent.toFixed(0) + '% of ' + formatSize(file.size);
      }
    });
    request.upload.addEventListener('load', () => {
      state.textContent = 'Verifying…';
    });
    request.addEventListener('load', () => {
      cancel.remove();
      if (request.status === 200) {
        let stored = file.name;
        try {
          stored = JSON.parse(request.responseText)[0].name;
        } catch (_) {
          // Keep the local name.
        }
        progress.value = 100;
        item.classList.add('done');
        item.dataset.stored = stored;
        state.textContent = stored === file.name ? 'Uploaded.' : 'Uploaded as ' + stored + ' (the name was taken).';
        refresh();
      } else {
        fail(errorMessage(request.status, request.responseText));
      }
    });
    request.addEventListener('error', () => fail('network error'));
    request.addEventListener('abort', () => fail('cancelled'));
    cancel.addEventListener('click', () => request.abort());
    state.textContent = 'Starting…';
    request.send(form);
  }

  function uploadAll(files) {
    for (const file of files) {
      upload(file);
    }
  }

  if (canWrite) {
    const input = $('#file-input');
    input.addEventListener('change', () => {
      uploadAll(Array.from(input.files));
      input.value = '';
    });
    const zone = $('#drop-zone');
    for (const type of ['dragenter', 'dragover']) {
      zone.addEventListener(type, (event) => {
        event.preventDefault();
        zone.classList.add('dragging');
      });
    }
    for (const type of ['dragleave', 'dragend']) {
      zone.addEventListener(type, () => zone.classList.remove('dragging'));
    }
    zone.addEventListener('drop', (event) => {
      event.preventDefault();
      zone.classList.remove('dragging');
      uploadAll(Array.from(event.dataTransfer.files));
    });
    // A file dropped next to the zone would make the browser navigate away from the page.
    window.addEventListener('dragover', (event) => event.preventDefault());
    window.addEventListener('drop', (event) => event.preventDefault());
  } else {
    $('#upload-card').remove();
  }

  $('#refresh').addEventListener('click', refresh);
  refresh();
})();
