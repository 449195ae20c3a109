// app.js: the facerec web page. It uses only the public HTTP API (docs/API.md) with the API
// key typed once (kept in this browser's localStorage).
'use strict';

const $ = (id) => document.getElementById(id);
const snapshots = []; // webcam photos (Blobs) waiting to be enrolled

function setStatus(id, text, isError) {
  $(id).textContent = text;
  $(id).classList.toggle('error', !!isError);
}

async function api(path, options = {}) {
  const headers = Object.assign({ 'x-api-key': localStorage.getItem('facerec-key') || '' }, options.headers || {});
  const response = await fetch(path, Object.assign({}, options, { headers }));
  const type = response.headers.get('Content-Type') || '';
  const body = type.startsWith('application/json') ? await response.json() : await response.blob();
  if (!response.ok) throw new Error(body.error || body.message || `${response.status} ${response.statusText}`);
  return body;
}

// ---- key
$('key').value = localStorage.getItem('facerec-key') || '';
$('key-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  localStorage.setItem('facerec-key', $('key').value.trim());
  try {
    const info = await api('/api/gallery');
    setStatus('key-status', `${info.model}, ${info.people} people`);
    loadPeople();
  } catch (err) {
    setStatus('key-status', err.message, true);
  }
});

// ---- enroll (uploads and webcam snapshots)
$('webcam-start').addEventListener('click', async () => {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: true });
    $('webcam').srcObject = stream;
    $('webcam').hidden = false;
    $('webcam-snap').hidden = false;
  } catch (err) {
    setStatus('enroll-status', `webcam: ${err.message}`, true);
  }
});

$('webcam-snap').addEventListener('click', () => {
  const video = $('webcam');
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  canvas.toBlob((blob) => {
    snapshots.push(blob);
    const img = document.createElement('img');
    img.src = URL.createObjectURL(blob);
    $('snapshots').appendChild(img);
  }, 'image/jpeg', 0.92);
});

$('enroll-btn').addEventListener('click', async () => {
  const name = $('enroll-name').value.trim();
  const files = [...$('enroll-files').files];
  if (!name) return setStatus('enroll-status', 'give a name', true);
  if (!files.length && !snapshots.length) return setStatus('enroll-status', 'choose photos or take some', true);
  const form = new FormData();
  files.forEach((f) => form.append('image', f, f.name));
  snapshots.forEach((b, i) => form.append('image', b, `webcam-${i + 1}.jpg`));
  setStatus('enroll-status', 'enrolling…');
  try {
    const r = await api(`/api/people/${encodeURIComponent(name)}/photos`, { method: 'POST', body: form });
    const rejected = r.rejected.map((x) => x.error).join('; ');
    setStatus('enroll-status', `enrolled ${r.added.length} photo(s) of ${r.name}${rejected ? `; ${rejected}` : ''}`);
    snapshots.length = 0;
    $('snapshots').textContent = '';
    $('enroll-files').value = '';
    loadPeople();
  } catch (err) {
    setStatus('enroll-status', err.message, true);
  }
});

// ---- identify: the photo with a box and a name over each face
$('identify-file').addEventListener('change', async () => {
  const file = $('identify-file').files[0];
  if (!file) return;
  const bitmap = await createImageBitmap(file);
  const canvas = $('identify-canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(bitmap, 0, 0);
  $('identify-results').textContent = '';
  setStatus('identify-status', 'identifying…');
  const form = new FormData();
  form.append('image', file, file.name);
  try {
    const r = await api('/api/identify', { method: 'POST', body: form });
    const scale = Math.max(2, bitmap.width / 400);
    ctx.lineWidth = scale;
    ctx.font = `${Math.round(12 * scale)}px sans-serif`;
    const drawn = [];
    for (const face of r.faces) {
      const [x, y, w, h] = face.box;
      const label = face.identity || 'unknown';
      const color = face.identity ? '#00c853' : '#ff9100';
      ctx.strokeStyle = color;
      ctx.strokeRect(x, y, w, h);
      const textWidth = ctx.measureText(label).width;
      ctx.fillStyle = color;
      ctx.fillRect(x, y - 16 * scale, textWidth + 8 * scale, 16 * scale);
      ctx.fillStyle = '#000';
      ctx.fillText(label, x + 4 * scale, y - 4 * scale);
      drawn.push(label);
      const li = document.createElement('li');
      li.textContent = face.identity ? `${label} (distance ${face.distance.toFixed(3)})` : label;
      $('identify-results').appendChild(li);
    }
    canvas.dataset.labels = JSON.stringify(drawn); // what was drawn, in the faces' order
    setStatus('identify-status', r.faces.length ? `${r.faces.length} face(s)` : 'no faces found');
  } catch (err) {
    setStatus('identify-status', err.message, true);
  }
});

// ---- people: thumbnail, rename, remove
async function thumbnail(name, img) {
  const r = await api(`/api/people/${encodeURIComponent(name)}/photos`);
  if (!r.photos.length) return;
  const blob = await api(`/api/people/${encodeURIComponent(name)}/photos/${r.photos[0].id}/image`);
  img.src = URL.createObjectURL(blob);
}

async function loadPeople() {
  try {
    const r = await api('/api/people');
    const list = $('people');
    list.textContent = '';
    for (const person of r.people) {
      const li = document.createElement('li');
      li.dataset.name = person.name;
      const img = document.createElement('img');
      img.alt = person.name;
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = `${person.name} (${person.photos} photo${person.photos === 1 ? '' : 's'})`;
      const input = document.createElement('input');
      input.value = person.name;
      input.className = 'new-name';
      const rename = document.createElement('button');
      rename.textContent = 'Rename';
      rename.className = 'rename';
      rename.addEventListener('click', async () => {
        try {
          await api(`/api/people/${encodeURIComponent(person.name)}`, {
            method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: input.value.trim() }),
          });
          loadPeople();
        } catch (err) {
          setStatus('people-status', err.message, true);
        }
      });
      const remove = document.createElement('button');
      remove.textContent = 'Remove';
      remove.className = 'remove';
      remove.addEventListener('click', async () => {
        if (!confirm(`Remove ${person.name} and every photo of them?`)) return;
        try {
          await api(`/api/people/${encodeURIComponent(person.name)}`, { method: 'DELETE' });
          loadPeople();
        } catch (err) {
          setStatus('people-status', err.message, true);
        }
      });
      li.append(img, name, input, rename, remove);
      list.appendChild(li);
      thumbnail(person.name, img).catch(() => {});
    }
    setStatus('people-status', r.people.length ? '' : 'nobody enrolled yet');
  } catch (err) {
    setStatus('people-status', err.message, true);
  }
}

$('people-refresh').addEventListener('click', loadPeople);
if (localStorage.getItem('facerec-key')) loadPeople();
