// Saring moderation console: keyboard shortcuts and in-place updates over the plain forms.
// Everything here also works without this script (every action is a form post); the script
// only avoids page loads and moves the focus. No inline code: the page's CSP allows only this file.
(function () {
  'use strict';
  var csrf = document.body.getAttribute('data-csrf');
  var lang = document.body.getAttribute('data-lang') || 'id';
  if (!csrf) return;
  var T = {
    id: { done: 'Selesai', undo: 'tekan u untuk mengurungkan', none: 'Tidak ada yang dipilih',
          fail: 'Gagal', stale: 'sudah diputuskan rekan', gone: 'Antrean ini kosong.' },
    en: { done: 'Done', undo: 'press u to undo', none: 'Nothing selected',
          fail: 'Failed', stale: 'already decided by a colleague', gone: 'This queue is empty.' }
  }[lang === 'en' ? 'en' : 'id'];
  var current = -1;
  var waitingG = false, gTimer = null;

  function cards() { return Array.prototype.slice.call(document.querySelectorAll('#cards .card')); }

  function toast(text) {
    var el = document.getElementById('toast');
    if (!el) {
      el = document.createElement('div');
      el.id = 'toast';
      el.setAttribute('role', 'status');
      document.body.appendChild(el);
    }
    el.textContent = text;
    el.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { el.hidden = true; }, 4000);
  }

  function focusCard(i) {
    var list = cards();
    if (!list.length) { current = -1; return; }
    i = Math.max(0, Math.min(i, list.length - 1));
    list.forEach(function (c) { c.classList.remove('current'); });
    current = i;
    list[i].classList.add('current');
    list[i].focus({ preventScroll: true });
    list[i].scrollIntoView({ block: 'nearest' });
  }

  function currentCard() {
    var list = cards();
    if (current < 0 && list.length) focusCard(0);
    return cards()[current] || null;
  }

  function fromHtml(html) {
    var t = document.createElement('template');
    t.innerHTML = html;
    return t.content.firstElementChild;
  }

  function adjustCount(delta) {
    var c = document.querySelector('nav.queues a[aria-current] .count');
    if (c) c.textContent = String(Math.max(0, parseInt(c.textContent, 10) + delta));
  }

  function post(url, body, json) {
    var headers = { 'Accept': 'application/json', 'X-CSRF-Token': csrf };
    headers['Content-Type'] = json ? 'application/json' : 'application/x-www-form-urlencoded';
    return fetch(url, { method: 'POST', headers: headers, body: body, credentials: 'same-origin' })
      .then(function (r) { return r.json().then(function (data) { return { status: r.status, data: data }; }); });
  }

  function removeCard(card) {
    var list = cards();
    var i = list.indexOf(card);
    card.remove();
    adjustCount(-1);
    if (!cards().length) {
      if (document.querySelector('nav.paging a[rel=next]')) {
        // This page is cleared, not the queue: decided comments have left it, so its first page
        // now starts with the ones that were on the next. Load that instead of saying "empty".
        var first = new URL(location.href);
        first.searchParams.delete('after');
        location.replace(first.href);
        return;
      }
      var p = document.createElement('p');
      p.className = 'empty';
      p.textContent = T.gone;
      document.getElementById('cards').appendChild(p);
    }
    focusCard(i < 0 ? 0 : i);
  }

  function replaceCard(card, html) {
    var fresh = fromHtml(html);
    if (!fresh) return;
    card.replaceWith(fresh);
    wire(fresh);
    focusCard(cards().indexOf(fresh));
  }

  function decide(card, action) {
    var form = card.querySelector('form.actions');
    if (!form || !form.querySelector('[data-action="' + action + '"]')) return;
    var body = new URLSearchParams(new FormData(form));
    body.set('action', action);
    card.classList.add('gone');
    // getAttribute: the buttons are named "action", which shadows form.action.
    post(form.getAttribute('action'), body.toString(), false).then(function (res) {
      if (res.status === 200 && res.data.ok) {
        toast(T.done + ' · ' + T.undo);
        removeCard(card);
      } else if (res.status === 409 && res.data.card) {
        toast(res.data.error.message);
        replaceCard(card, res.data.card);
      } else {
        card.classList.remove('gone');
        toast(T.fail + ': ' + ((res.data.error && res.data.error.message) || res.status));
      }
    }).catch(function () { card.classList.remove('gone'); toast(T.fail); });
  }

  function undo() {
    post('/admin/undo?lang=' + lang, 'csrf=' + encodeURIComponent(csrf), false).then(function (res) {
      var d = res.data;
      toast(d.message || (d.error && d.error.message) || '');
      if (!d.card) return;
      var fresh = fromHtml(d.card);
      var old = document.getElementById('c-' + d.id);
      if (old) { old.replaceWith(fresh); } else {
        var empty = document.querySelector('#cards .empty');
        if (empty) empty.remove();
        var list = cards();
        var at = list[current] || null;
        document.getElementById('cards').insertBefore(fresh, at);
        adjustCount(1);
      }
      wire(fresh);
      focusCard(cards().indexOf(fresh));
    }).catch(function () { toast(T.fail); });
  }

  function selected() {
    return cards().filter(function (c) {
      var box = c.querySelector('input[name=item]');
      return box && box.checked;
    });
  }

  function bulk(action) {
    var chosen = selected();
    if (!chosen.length) { toast(T.none); return; }
    var items = chosen.map(function (c) {
      return { id: c.getAttribute('data-id'), expected_version: parseInt(c.getAttribute('data-version'), 10) };
    });
    post('/admin/bulk?lang=' + lang, JSON.stringify({ action: action, csrf: csrf, items: items }), true)
      .then(function (res) {
        var results = res.data.results || [];
        var stale = 0;
        results.forEach(function (r) {
          var card = document.getElementById('c-' + r.id);
          if (!card) return;
          if (r.result === 'done') { removeCard(card); return; }
          if (r.result === 'stale') stale++;
          fetch('/admin/comments/' + r.id + '?lang=' + lang, { headers: { 'Accept': 'application/json' }, credentials: 'same-origin' })
            .then(function (x) { return x.json(); })
            .then(function (d) { if (d.card) replaceCard(card, d.card); });
        });
        toast(T.done + ': ' + (res.data.done || 0) + (stale ? ' · ' + stale + ' ' + T.stale : ''));
      }).catch(function () { toast(T.fail); });
  }

  function toggleSelect(card) {
    var box = card.querySelector('input[name=item]');
    if (!box) return;
    box.checked = !box.checked;
    card.classList.toggle('selected', box.checked);
  }

  function wire(card) {
    var form = card.querySelector('form.actions');
    if (form) {
      form.addEventListener('submit', function (e) {
        e.preventDefault();
        var action = e.submitter && e.submitter.value;
        if (action) decide(card, action);
      });
    }
    var box = card.querySelector('input[name=item]');
    if (box) box.addEventListener('change', function () { card.classList.toggle('selected', box.checked); });
    card.addEventListener('click', function (e) {
      if (e.target.closest('button, a, input, label')) return;
      focusCard(cards().indexOf(card));
    });
  }

  cards().forEach(wire);
  // Focus reached by Tab or a click makes that card the current one for the shortcuts.
  document.addEventListener('focusin', function (e) {
    var card = e.target.closest && e.target.closest('#cards .card');
    if (!card) return;
    var list = cards();
    list.forEach(function (c) { c.classList.toggle('current', c === card); });
    current = list.indexOf(card);
  });
  var bulkForm = document.getElementById('bulk');
  if (bulkForm) {
    bulkForm.addEventListener('submit', function (e) {
      e.preventDefault();
      if (e.submitter) bulk(e.submitter.value);
    });
  }
  var undoForm = document.getElementById('undo');
  if (undoForm && undoForm.form) {
    undoForm.form.addEventListener('submit', function (e) { e.preventDefault(); undo(); });
  }

  document.addEventListener('keydown', function (e) {
    var tag = (e.target.tagName || '').toLowerCase();
    if (tag === 'input' || tag === 'textarea' || tag === 'select') {
      if (e.key === 'Escape') e.target.blur();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (waitingG) {
      waitingG = false;
      clearTimeout(gTimer);
      var link = document.querySelector('nav.queues a[data-key="' + e.key.toLowerCase() + '"]');
      if (link) { e.preventDefault(); location.href = link.href; }
      return;
    }
    var help = document.getElementById('help');
    var card;
    switch (e.key) {
      case 'j': focusCard(current + 1); break;
      case 'k': focusCard(current - 1); break;
      case 'a': if ((card = currentCard())) decide(card, 'approve'); break;
      case 'r': if ((card = currentCard())) decide(card, 'reject'); break;
      case 's': if ((card = currentCard())) decide(card, 'spam'); break;
      case 'n': if ((card = currentCard())) decide(card, 'not_spam'); break;
      case 'd': if ((card = currentCard())) decide(card, 'delete'); break;
      case 'u': undo(); break;
      case 'x': if ((card = currentCard())) toggleSelect(card); break;
      case 'A': bulk('approve'); break;
      case 'R': bulk('reject'); break;
      case 'S': bulk('spam'); break;
      case '/': var s = document.getElementById('search'); if (s) s.focus(); break;
      case 'g': waitingG = true; gTimer = setTimeout(function () { waitingG = false; }, 1500); break;
      case '?': if (help) help.open = !help.open; break;
      case 'Escape': if (help) help.open = false; break;
      default: return;
    }
    e.preventDefault();
  });

  if (cards().length) focusCard(0);
})();
