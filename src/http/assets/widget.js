/*! Saring comment widget. Plain JavaScript, no dependencies, no build step.
 * Embed under an article:
 *   <div id="saring-thread" data-thread="ARTICLE-KEY" data-lang="id"></div>
 *   <script src="https://comments.example.org/widget.js" async></script>
 * Comment counts anywhere on the page: <span data-saring-count="ARTICLE-KEY"></span>
 * Theme with CSS custom properties (--saring-accent, --saring-text, ...); see docs/widget.md.
 */
(function () {
  "use strict";

  // The API lives where this script came from, so one tag is all a site needs.
  var me = document.currentScript;
  var API = me && me.src ? new URL(me.src, location.href).origin : location.origin;
  var KEY_RE = /^[A-Za-z0-9_.:-]{1,128}$/;
  var STORE = "saring-author";
  var uid = 0;
  // Published comments that make the widget start without the sum (the server's own rule is three
  // approved comments and no spam; it asks for the sum again when it disagrees).
  var TRUSTED_AFTER = 3;

  // Proof of work: find n with SHA-256(salt + n) starting with `bits` zero bits. Web Crypto hashes
  // natively; a batch of digests in flight at once hides the per-call cost of its promises.
  // Written once and run either in a Web Worker (built from this very function's source, since a
  // worker must come from the page's origin) or, where workers are refused, on the page itself.
  function powLoop(salt, bits, done, alive) {
    var n = 0, enc = new TextEncoder(), B = 256;
    function zeros(buf) {
      var u = new Uint8Array(buf), z = 0;
      for (var i = 0; i < u.length; i++) {
        if (u[i] === 0) { z += 8; continue; }
        return z + Math.clz32(u[i]) - 24;
      }
      return z;
    }
    function step() {
      if (!alive()) return;
      var ps = [];
      for (var i = 0; i < B; i++) ps.push(crypto.subtle.digest("SHA-256", enc.encode(salt + (n + i))));
      Promise.all(ps).then(function (hs) {
        for (var i = 0; i < hs.length; i++) if (zeros(hs[i]) >= bits) return done(String(n + i));
        n += B;
        step();
      });
    }
    step();
  }
  var WORKER_SRC = "onmessage=function(e){(" + powLoop.toString() +
    ")(e.data.salt,e.data.bits,function(n){postMessage(n)},function(){return true})}";
  var workerUrl = null;

  // Starts solving; calls done(stamp) once; returns a function that stops the work.
  function powSolve(salt, bits, done) {
    if (!bits) { done(""); return function () {}; }
    // Without Web Crypto (a page served over plain http) send none; the server says why.
    if (!window.crypto || !crypto.subtle) { done(""); return function () {}; }
    try {
      if (!workerUrl) workerUrl = URL.createObjectURL(new Blob([WORKER_SRC], { type: "text/javascript" }));
      var w = new Worker(workerUrl);
      w.onmessage = function (e) { w.terminate(); done(String(e.data)); };
      w.postMessage({ salt: salt, bits: bits });
      return function () { w.terminate(); };
    } catch (e) {
      var on = true;
      powLoop(salt, bits, function (n) { if (on) done(n); }, function () { return on; });
      return function () { on = false; };
    }
  }
  // For measurements (docs/edge.md): the same loop, timed by the caller.
  window.SaringPow = {
    solve: powSolve,
    onPage: function (salt, bits, done) { powLoop(salt, bits, done, function () { return true; }); }
  };

  // Every rule is scoped to .saring or a saring- class so nothing reaches the host page. Colours
  // come from custom properties with fallbacks, so a site may set them on :root or on the thread.
  // The server-rendered no-JavaScript page reuses this block verbatim (it must hold no backquote).
  var CSS = `
.saring{color:var(--saring-text,inherit);font-family:var(--saring-font,inherit);line-height:1.55;max-width:var(--saring-max-width,46rem)}
.saring *{box-sizing:border-box}
.saring [hidden]{display:none!important}
.saring-sr{position:absolute!important;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}
.saring-title{font-size:1.3em;font-weight:700;margin:1.5em 0 .8em;line-height:1.3}
.saring-list,.saring-replies{list-style:none;margin:0;padding:0}
.saring-replies{margin:.75rem 0 0 var(--saring-indent,1.25rem);padding-left:.75rem;border-left:2px solid var(--saring-border,#dcdcdc)}
.saring-comment{margin:0 0 1rem}
.saring-card{padding:.75rem 1rem;border:1px solid var(--saring-border,#dcdcdc);border-radius:var(--saring-radius,6px);background:var(--saring-bg,#fff)}
.saring-pending>.saring-card{background:var(--saring-pending-bg,#fff8e1);border-style:dashed}
.saring-comment:target>.saring-card{box-shadow:0 0 0 3px var(--saring-focus,#ffbf47)}
.saring-meta{display:flex;flex-wrap:wrap;gap:.25rem .75rem;align-items:baseline;margin-bottom:.35rem}
.saring-author{font-weight:700}
.saring a{color:var(--saring-link,#0b5cad)}
.saring-time{color:var(--saring-muted,#5f6368);font-size:.85em}
.saring-badge{display:block;font-size:.85em;font-style:italic;color:var(--saring-pending-text,#7a4a00);margin-bottom:.35rem}
.saring-body{overflow-wrap:anywhere}
.saring-body p{margin:0 0 .6em}
.saring-body p:last-child{margin-bottom:0}
.saring-actions{display:flex;gap:1rem;margin-top:.4rem}
.saring-link{background:none;border:0;padding:0;font:inherit;font-size:.85em;color:var(--saring-link,#0b5cad);cursor:pointer;text-decoration:underline}
.saring-link[disabled]{color:var(--saring-muted,#5f6368);cursor:default;text-decoration:none}
.saring-btn{display:inline-block;font:inherit;font-weight:700;padding:.55rem 1.3rem;border:2px solid var(--saring-accent,#0b5cad);border-radius:var(--saring-radius,6px);background:var(--saring-accent,#0b5cad);color:var(--saring-accent-text,#fff);cursor:pointer;text-decoration:none}
.saring-btn[disabled]{opacity:.6;cursor:default}
.saring-more{background:transparent;color:var(--saring-accent,#0b5cad);margin:0 0 1rem}
.saring-form{margin:1rem 0;padding:1rem 1.25rem;border:1px solid var(--saring-border,#dcdcdc);border-radius:var(--saring-radius,6px);background:var(--saring-form-bg,#f6f7f8)}
.saring-form .saring-title{margin-top:0}
.saring-note{font-size:.9em;color:var(--saring-muted,#5f6368);margin:0 0 1rem}
.saring-field{margin:0 0 .9rem}
.saring-field>label,.saring-label{display:block;font-weight:600;margin-bottom:.25rem}
.saring-input{display:block;width:100%;font:inherit;padding:.5rem .6rem;border:1px solid var(--saring-input-border,#8a8f98);border-radius:4px;background:var(--saring-input-bg,#fff);color:var(--saring-input-text,#1f1f1f)}
textarea.saring-input{min-height:8rem;resize:vertical}
.saring-input[aria-invalid=true]{border-color:var(--saring-error,#b3261e);box-shadow:0 0 0 1px var(--saring-error,#b3261e)}
.saring-req{color:var(--saring-error,#b3261e)}
.saring-ferr{display:block;color:var(--saring-error,#b3261e);font-size:.9em;margin-top:.25rem}
.saring-ferr:empty{display:none}
.saring-qline{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem;font-size:1.2em;font-variant-numeric:tabular-nums}
.saring-qpart:empty{display:none}
.saring-qline .saring-input{display:inline-block;width:4.5em;text-align:center}
.saring-qline .saring-link{font-size:.75em}
.saring-check{display:flex;gap:.5rem;align-items:flex-start;font-size:.9em;margin:0 0 1rem}
.saring-check input{margin-top:.3em}
.saring-hp{position:absolute!important;left:-10000px;width:1px;height:1px;overflow:hidden}
.saring-status{margin:.75rem 0 0;min-height:1.5em}
.saring-status.saring-error{color:var(--saring-error,#b3261e);font-weight:600}
.saring-status.saring-ok{color:var(--saring-ok,#1b6e20)}
.saring-errors{margin:0 0 1rem;padding:.75rem 1rem;border-left:4px solid var(--saring-error,#b3261e);background:var(--saring-bg,#fff);color:var(--saring-error,#b3261e)}
.saring-errors p{margin:0}
.saring-errors ul{margin:.4rem 0 0;padding-left:1.2rem}
.saring-closed{font-style:italic;color:var(--saring-muted,#5f6368)}
.saring :focus-visible{outline:3px solid var(--saring-focus,#ffbf47);outline-offset:2px}
`;

  var TEXT = {
    id: {
      loading: "Memuat komentar…",
      loadFail: "Komentar tidak dapat dimuat.",
      again: "Coba lagi",
      none: "Belum ada komentar",
      count: function (n) { return n + " Komentar"; },
      more: "Muat komentar lainnya",
      closed: "Komentar ditutup.",
      title: "Tinggalkan Balasan",
      replyTo: function (name) { return "Balas ke " + name; },
      cancel: "Batalkan balasan",
      note: "Alamat email Anda tidak akan dipublikasikan.",
      reqNote: "Ruas yang wajib ditandai",
      comment: "Komentar",
      name: "Nama",
      email: "Email",
      url: "Situs Web",
      captcha: "Isi angka yang hilang",
      newq: "Ganti soal",
      skip: "Lewati soal hitungan",
      skipLabel: "Lewati soal hitungan; peramban Anda mengerjakan pemeriksaan otomatis yang sedikit lebih lama",
      skipped: "Soal hitungan dilewati. Peramban Anda mengerjakan pemeriksaan otomatis sebagai gantinya.",
      answerSum: "Jawab soal hitungan saja",
      trusted: "Anda sudah pernah berkomentar di sini, jadi tidak perlu menjawab soal.",
      working: "Mengirim komentar… (menyelesaikan pemeriksaan otomatis)",
      hp: "Jangan isi ruas ini",
      remember: "Simpan nama, email, dan situs web saya pada peramban ini untuk komentar saya berikutnya.",
      submit: "Kirim Komentar",
      sending: "Mengirim komentar…",
      reply: "Balas",
      report: "Laporkan",
      reported: "Dilaporkan",
      confirmReport: "Laporkan komentar ini kepada moderator?",
      pending: "Komentar Anda menunggu moderasi.",
      erased: "Dihapus atas permintaan penulis.",
      published: "Komentar Anda sudah terbit.",
      required: "Ruas ini wajib diisi.",
      badEmail: "Alamat email tidak valid.",
      fix: "Periksa kembali ruas yang ditandai.",
      retry: function (d) { return "Terlalu banyak percobaan dalam waktu singkat. Coba lagi dalam " + d + "."; },
      sec: function (n) { return n + " detik"; },
      min: function (n) { return n + " menit"; },
      newCaptcha: "Jawab soal yang baru.",
      tooLarge: "Komentar terlalu panjang.",
      network: "Tidak dapat terhubung ke server. Komentar Anda belum terkirim; silakan coba lagi.",
      failed: "Komentar belum terkirim. Silakan coba lagi.",
      justNow: "baru saja"
    },
    en: {
      loading: "Loading comments…",
      loadFail: "Comments could not be loaded.",
      again: "Try again",
      none: "No comments yet",
      count: function (n) { return n + (n === 1 ? " Comment" : " Comments"); },
      more: "Load more comments",
      closed: "Comments are closed.",
      title: "Leave a Reply",
      replyTo: function (name) { return "Reply to " + name; },
      cancel: "Cancel reply",
      note: "Your email address will not be published.",
      reqNote: "Required fields are marked",
      comment: "Comment",
      name: "Name",
      email: "Email",
      url: "Website",
      captcha: "Fill in the missing number",
      skip: "Skip the sum",
      skipLabel: "Skip the sum; your browser does a slightly longer automatic check instead",
      skipped: "Sum skipped. Your browser does an automatic check instead.",
      answerSum: "Answer the sum instead",
      trusted: "You have commented here before, so there is no sum to answer.",
      working: "Sending your comment… (finishing the automatic check)",
      newq: "New question",
      hp: "Leave this field empty",
      remember: "Save my name, email, and website in this browser for the next time I comment.",
      submit: "Post Comment",
      sending: "Posting your comment…",
      reply: "Reply",
      report: "Report",
      reported: "Reported",
      confirmReport: "Report this comment to the moderators?",
      pending: "Your comment is awaiting moderation.",
      erased: "Deleted at the author's request.",
      published: "Your comment has been published.",
      required: "This field is required.",
      badEmail: "This email address is not valid.",
      fix: "Please check the marked fields.",
      retry: function (d) { return "Too many attempts in a short time. Try again in " + d + "."; },
      sec: function (n) { return n + (n === 1 ? " second" : " seconds"); },
      min: function (n) { return n + (n === 1 ? " minute" : " minutes"); },
      newCaptcha: "Answer the new question.",
      tooLarge: "The comment is too long.",
      network: "Could not reach the server. Your comment was not sent; please try again.",
      failed: "Your comment was not sent. Please try again.",
      justNow: "just now"
    }
  };

  function langOf(el) {
    var l = ((el && el.getAttribute("data-lang")) || document.documentElement.lang || "id").slice(0, 2).toLowerCase();
    return Object.prototype.hasOwnProperty.call(TEXT, l) ? l : "id";
  }

  function countText(t, n) { return n > 0 ? t.count(n) : t.none; }

  // Builds an element. `cls` names get the saring- prefix; strings become text nodes, never HTML.
  function h(tag, props, kids) {
    var el = document.createElement(tag);
    for (var k in props || {}) {
      var v = props[k];
      if (v == null || v === false) continue;
      if (k === "text") el.textContent = v;
      else if (k === "cls") el.className = v.split(" ").map(function (c) { return "saring-" + c; }).join(" ");
      else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    (kids || []).forEach(function (c) {
      if (c != null) el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return el;
  }

  function api(method, path, body) {
    var opt = { method: method, headers: { Accept: "application/json" }, credentials: "omit" };
    if (body) {
      opt.headers["Content-Type"] = "application/json";
      opt.body = JSON.stringify(body);
    }
    return fetch(API + path, opt).then(function (r) {
      return r.text().then(function (txt) {
        var data = null;
        try { data = txt ? JSON.parse(txt) : null; } catch (e) { data = null; }
        return { status: r.status, ok: r.ok, data: data || {}, headers: r.headers };
      });
    });
  }

  var UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];

  // "5 menit yang lalu" / "5 minutes ago"; older than 30 days shows the date instead.
  function relTime(lang, iso) {
    var d = new Date(iso), s = (Date.now() - d.getTime()) / 1000;
    if (isNaN(s)) return "";
    if (s < 60) return TEXT[lang].justNow;
    if (s >= 2592000 || !window.Intl || !Intl.RelativeTimeFormat) {
      return d.toLocaleDateString(lang, { day: "numeric", month: "long", year: "numeric" });
    }
    var rtf = new Intl.RelativeTimeFormat(lang, { numeric: "always" });
    for (var i = 2; i < UNITS.length; i++) {
      if (s >= UNITS[i][1]) return rtf.format(-Math.floor(s / UNITS[i][1]), UNITS[i][0]);
    }
    return "";
  }

  function fullTime(lang, iso) {
    var d = new Date(iso);
    return isNaN(d.getTime()) ? "" : d.toLocaleString(lang, { dateStyle: "long", timeStyle: "short" });
  }

  function duration(t, secs) {
    return secs < 90 ? t.sec(secs) : t.min(Math.ceil(secs / 60));
  }

  function safeUrl(u) { return typeof u === "string" && /^https?:\/\/[^\s]+$/i.test(u) ? u : null; }

  function storage() {
    try { return window.localStorage; } catch (e) { return null; }
  }

  // The known-reader token (signed by the server for the email it was issued to: without it the
  // email's record is no trust) and the claims of comments awaiting a moderator, traded for a
  // token once approved. Neither holds personal data.
  var READER = "saring-reader";
  function readerState() {
    var s = storage();
    try { return (s && JSON.parse(s.getItem(READER) || "null")) || { t: "", c: [] }; } catch (e) { return { t: "", c: [] }; }
  }
  function saveReader(r) {
    var s = storage();
    try { if (s) s.setItem(READER, JSON.stringify(r)); } catch (e) { /* remembering is optional */ }
  }
  function redeemClaims(onToken) {
    var r = readerState();
    r.c = (r.c || []).filter(function (c) { return Date.now() - c.a < 2592000000; }).slice(-5);
    saveReader(r);
    r.c.forEach(function (c) {
      api("POST", "/api/v1/reader-token", { comment_id: c.i, claim: c.c }).then(function (res) {
        if (res.status !== 200 || !res.data.reader_token) return;
        var now = readerState();
        now.t = res.data.reader_token;
        now.c = (now.c || []).filter(function (x) { return x.i !== c.i; });
        saveReader(now);
        onToken();
      }, function () { /* asked again on a later visit */ });
    });
  }

  function Thread(root) {
    var key = root.getAttribute("data-thread") || "";
    var lang = langOf(root), t = TEXT[lang];
    var pfx = "saring-" + (++uid) + "-";
    var enc = "/api/v1/threads/" + encodeURIComponent(key) + "/comments?lang=" + lang;
    var st = { next: 1, total: 0, seen: Object.create(null), captcha: null, expires: 0, parent: null, busy: false, loading: false };

    root.classList.add("saring");
    root.setAttribute("lang", lang);
    root.textContent = "";

    var heading = h("h2", { cls: "title", id: pfx + "count", "aria-live": "polite", text: t.loading });
    var list = h("ol", { cls: "list", "aria-labelledby": pfx + "count" });
    var more = h("button", { type: "button", cls: "btn more", hidden: true, onclick: function () { load(true); } }, [t.more]);
    var loadMsg = h("p", { role: "status" });

    // The form, built once and moved under a comment when replying, as WordPress does.
    var formTitle = h("h3", { cls: "title", id: pfx + "form-title", text: t.title });
    var cancel = h("button", { type: "button", cls: "link", hidden: true, onclick: function () { endReply(true); } }, [t.cancel]);
    var fields = {};
    function field(name, label, input, required) {
      var id = pfx + name;
      input.id = id;
      input.name = name;
      input.className = "saring-input";
      if (required) input.required = true;
      var err = h("span", { cls: "ferr", id: id + "-err" });
      input.setAttribute("aria-describedby", id + "-err");
      fields[name] = { input: input, err: err };
      return h("p", { cls: "field" }, [
        h("label", { "for": id }, [label, required ? h("span", { cls: "req", "aria-hidden": "true" }, [" *"]) : null]),
        input, err
      ]);
    }
    var fComment = field("comment", t.comment, h("textarea", { rows: 6 }), true);
    var fAuthor = field("author", t.name, h("input", { type: "text", autocomplete: "name", maxlength: 100 }), true);
    var fEmail = field("email", t.email, h("input", { type: "email", autocomplete: "email", maxlength: 254 }), true);
    var fUrl = field("url", t.url, h("input", { type: "url", autocomplete: "url", maxlength: 300 }), false);

    var capId = pfx + "captcha";
    var qBefore = h("span", { cls: "qpart", "aria-hidden": "true" });
    var qAfter = h("span", { cls: "qpart", "aria-hidden": "true" });
    var capPrompt = h("span", { cls: "sr" });
    var capInput = h("input", {
      type: "text", id: capId, name: "captcha_answer", cls: "input", inputmode: "numeric",
      autocomplete: "off", maxlength: 8, required: true, "aria-describedby": capId + "-err"
    });
    var capErr = h("span", { cls: "ferr", id: capId + "-err" });
    fields.captcha = { input: capInput, err: capErr };
    var sumBox = h("div", {}, [
      h("label", { "for": capId, cls: "label" }, [t.captcha, h("span", { cls: "req", "aria-hidden": "true" }, [" *"]), capPrompt]),
      h("div", { cls: "qline" }, [qBefore, capInput, qAfter,
        h("button", { type: "button", cls: "link", onclick: function () { loadCaptcha(true); } }, [t.newq])])
    ]);
    var skipBtn = h("button", { type: "button", cls: "link skip", "aria-label": t.skipLabel, onclick: function () { setMode(st.mode === "sum" ? "skip" : "sum", true); } }, [t.skip]);
    var modeNote = h("p", { cls: "note", id: capId + "-mode", "aria-live": "polite" });
    var fCaptcha = h("div", { cls: "field captcha" }, [sumBox, modeNote, h("p", {}, [skipBtn]), capErr]);
    st.mode = "sum";
    st.pow = { stamp: null, skip: null, stop: null, waiting: null };

    // Bots fill every field they find; people never see this one.
    var hp = h("input", { type: "text", name: "homepage", tabindex: "-1", autocomplete: "off", id: pfx + "hp" });
    var fHp = h("div", { cls: "hp", "aria-hidden": "true" }, [h("label", { "for": pfx + "hp" }, [t.hp]), hp]);

    var remember = h("input", { type: "checkbox", id: pfx + "remember" });
    var fRemember = h("p", { cls: "check" }, [remember, h("label", { "for": pfx + "remember" }, [t.remember])]);

    var submitBtn = h("button", { type: "submit", cls: "btn" }, [t.submit]);
    var status = h("p", { cls: "status", role: "status", "aria-live": "polite" });

    var form = h("form", { cls: "form", id: pfx + "respond", novalidate: true, "aria-labelledby": pfx + "form-title", onsubmit: submit }, [
      formTitle,
      h("p", { cls: "note" }, [t.note + " " + t.reqNote + " ", h("span", { cls: "req" }, ["*"])]),
      fComment, fAuthor, fEmail, fUrl, fCaptcha, fHp, fRemember,
      h("p", {}, [submitBtn, " ", cancel]),
      status
    ]);
    fields.comment.input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : submit(e); }
    });
    form.addEventListener("focusin", function () {
      if (!st.captcha || (Date.now() > st.expires && !capInput.value)) loadCaptcha(false);
    });

    root.appendChild(heading);
    root.appendChild(list);
    root.appendChild(more);
    root.appendChild(loadMsg);
    root.appendChild(form);

    var saved = storage();
    try {
      var who = saved && JSON.parse(saved.getItem(STORE) || "null");
      if (who) {
        fields.author.input.value = who.n || "";
        fields.email.input.value = who.e || "";
        fields.url.input.value = who.u || "";
        remember.checked = true;
        if ((who.p || 0) >= TRUSTED_AFTER && readerState().t) setMode("trusted", false);
      }
    } catch (e) { /* a broken entry is ignored, not fatal */ }
    // A token earned by an approval arrives after the form is drawn: trust then, if the count says so.
    if ((readerState().c || []).length) redeemClaims(function () {
      if (who && (who.p || 0) >= TRUSTED_AFTER && st.mode === "sum") setMode("trusted", false);
    });

    function setTrusted(p) {
      var store = storage();
      try {
        var who = store && JSON.parse(store.getItem(STORE) || "null");
        if (who) { who.p = p; store.setItem(STORE, JSON.stringify(who)); }
      } catch (e) { /* remembering is optional */ }
    }

    function setCount() { heading.textContent = countText(t, st.total); }

    function renderComment(c, own) {
      st.seen[c.id] = true;
      var url = safeUrl(c.author_url);
      var name = String(c.author_name || "");
      var author = url
        ? h("a", { cls: "author", href: url, rel: "nofollow ugc" }, [name])
        : h("span", { cls: "author" }, [name]);
      var body = h("div", { cls: "body" });
      // body_html comes from the server already escaped: only <p>, <br> and safe <a> survive there.
      // A comment whose author's data was erased says so in the widget's own language.
      if (c.erased) body.textContent = t.erased;
      else body.innerHTML = c.body_html || "";
      var card = h("article", { cls: "card", tabindex: "-1" }, [
        h("div", { cls: "meta" }, [author,
          h("time", { cls: "time", datetime: c.created_at, title: fullTime(lang, c.created_at) }, [relTime(lang, c.created_at)])]),
        own ? h("span", { cls: "badge" }, [t.pending]) : null,
        body
      ]);
      var li = h("li", { cls: own ? "comment pending" : "comment", id: "comment-" + c.id }, [card]);
      if (!own) {
        var replyBtn = st.closed ? null : h("button", {
          type: "button", cls: "link reply", "aria-label": t.replyTo(name),
          onclick: function () { startReply(c.id, name, li, card, replyBtn); }
        }, [t.reply]);
        var flagBtn = h("button", { type: "button", cls: "link", onclick: function () { flag(c.id, flagBtn); } }, [t.report]);
        card.appendChild(h("div", { cls: "actions" }, [replyBtn, flagBtn]));
      }
      var replies = (c.replies || []).filter(function (r) { return r && !st.seen[r.id]; });
      if (replies.length) li.appendChild(h("ol", { cls: "replies" }, replies.map(function (r) { return renderComment(r); })));
      return li;
    }

    function load(fromButton) {
      if (st.loading || st.next == null) return;
      st.loading = true;
      more.disabled = true;
      list.setAttribute("aria-busy", "true");
      loadMsg.textContent = "";
      var first = null, failed = false;
      api("GET", enc + "&page=" + encodeURIComponent(st.next)).then(function (r) {
        if (!r.ok) throw new Error("status " + r.status);
        var d = r.data;
        st.total = typeof d.total === "number" ? d.total : 0;
        st.next = d.next == null ? null : d.next;
        if (d.closed) closeForm();
        (d.comments || []).forEach(function (c) {
          if (c && !st.seen[c.id]) {
            var li = renderComment(c);
            list.appendChild(li);
            first = first || li;
          }
        });
        setCount();
        if (fromButton && st.next == null && first) first.firstChild.focus();
        var target = /^#comment-[\w-]+$/.test(location.hash) && document.getElementById(location.hash.slice(1));
        if (!fromButton && target) target.scrollIntoView();
      }).catch(function () {
        failed = true;
        if (!st.total) heading.textContent = t.loadFail;
        loadMsg.textContent = "";
        loadMsg.appendChild(h("button", { type: "button", cls: "link", onclick: function () { load(true); } }, [t.again]));
      }).then(function () {
        st.loading = false;
        list.removeAttribute("aria-busy");
        more.disabled = false;
        more.hidden = failed || st.next == null;
      });
    }

    function closeForm() {
      if (st.closed) return;
      st.closed = true;
      [].forEach.call(root.querySelectorAll(".saring-reply"), function (b) { b.parentNode.removeChild(b); });
      if (form.parentNode) form.parentNode.removeChild(form);
      root.appendChild(h("p", { cls: "closed", text: t.closed }));
    }

    function flag(id, btn) {
      if (!window.confirm(t.confirmReport)) return;
      btn.disabled = true;
      api("POST", "/api/v1/comments/" + encodeURIComponent(id) + "/flag?lang=" + lang, {}).then(function (r) {
        if (r.ok) btn.textContent = t.reported;
        else { btn.disabled = false; say(errorText(r), true); }
      }, function () { btn.disabled = false; say(t.network, true); });
    }

    function startReply(id, name, li, card, btn) {
      st.parent = id;
      st.replyBtn = btn;
      formTitle.textContent = t.replyTo(name);
      cancel.hidden = false;
      li.insertBefore(form, card.nextSibling);
      fields.comment.input.focus();
    }

    function endReply(refocus) {
      var btn = st.replyBtn;
      st.parent = null;
      st.replyBtn = null;
      formTitle.textContent = t.title;
      cancel.hidden = true;
      root.appendChild(form);
      if (refocus && btn) btn.focus();
    }

    // "sum": answer it (plus the base stamp); "skip": no sum, the higher stamp; "trusted": no sum,
    // whatever stamp is ready (the server decides from the author's record).
    function setMode(mode, focus) {
      st.mode = mode;
      var sum = mode === "sum";
      sumBox.hidden = !sum;
      capInput.required = sum;
      skipBtn.textContent = sum ? t.skip : t.answerSum;
      skipBtn.setAttribute("aria-label", sum ? t.skipLabel : t.answerSum);
      skipBtn.hidden = mode === "trusted";
      modeNote.textContent = mode === "skip" ? t.skipped : mode === "trusted" ? t.trusted : "";
      fieldError(fields.captcha, "");
      work();
      if (focus) (sum ? capInput : skipBtn).focus();
    }

    // Solves what the current challenge and mode need, while the reader writes.
    function work() {
      var c = st.captcha, p = st.pow;
      if (!c || !c.pow) return;
      var want = st.mode === "skip" ? "skip" : "stamp";
      if (p[want] !== null || p.busyFor === want + c.token) return;
      if (p.stop) p.stop();
      p.busyFor = want + c.token;
      var bits = want === "skip" ? c.pow.skip_difficulty : c.pow.difficulty;
      var token = c.token;
      p.stop = powSolve(c.pow.salt, bits, function (n) {
        if (!st.captcha || st.captcha.token !== token) return;
        p[want] = n;
        p.busyFor = null;
        p.stop = null;
        if (want === "skip" && p.stamp === null) p.stamp = n;
        if (p.waiting) { var go = p.waiting; p.waiting = null; go(); }
        else work();
      });
    }

    function stampFor(mode) {
      var p = st.pow;
      if (mode === "skip") return p.skip;
      if (mode === "trusted") return p.stamp || p.skip || "";
      return p.stamp;
    }

    function showCaptcha(c) {
      if (!c || !c.token) return;
      if (st.pow.stop) st.pow.stop();
      st.pow = { stamp: null, skip: null, stop: null, waiting: st.pow.waiting, busyFor: null };
      st.captcha = c;
      st.expires = Date.now() + Math.max(0, (c.expires_in || 600) - 10) * 1000;
      var parts = String(c.question || "").split("[ ]");
      qBefore.textContent = parts[0];
      qAfter.textContent = parts.slice(1).join("[ ]");
      capPrompt.textContent = " " + (c.prompt || c.question || "");
      capInput.value = "";
      work();
    }

    function loadCaptcha(focus) {
      if (st.capLoading) return;
      st.capLoading = true;
      // Blank the old question so nobody answers a challenge that is being replaced.
      qBefore.textContent = "…";
      qAfter.textContent = "";
      api("GET", "/api/v1/captcha?lang=" + lang + "&thread=" + encodeURIComponent(key)).then(function (r) {
        if (r.ok) {
          showCaptcha(r.data);
          fieldError(fields.captcha, "");
          if (focus) capInput.focus();
        } else {
          fieldError(fields.captcha, errorText(r));
        }
      }, function () { fieldError(fields.captcha, t.network); }).then(function () { st.capLoading = false; });
    }

    function say(msg, kind) {
      status.textContent = msg || "";
      status.className = "saring-status" + (kind === true ? " saring-error" : kind ? " saring-ok" : "");
    }

    function fieldError(f, msg) {
      f.err.textContent = msg || "";
      if (msg) f.input.setAttribute("aria-invalid", "true");
      else f.input.removeAttribute("aria-invalid");
    }

    function errorText(r) {
      var e = r.data && r.data.error;
      var secs = parseInt(r.headers.get("Retry-After"), 10) || (e && e.retry_after);
      if (r.status === 429) return t.retry(duration(t, Math.max(1, Math.min(secs || 60, 86400))));
      if (r.status === 413) return t.tooLarge;
      return (e && e.message) || t.failed;
    }

    function busy(on) {
      st.busy = on;
      submitBtn.disabled = on;
      form.setAttribute("aria-busy", on ? "true" : "false");
    }

    var FIELD_OF = Object.assign(Object.create(null), {
      author_name: "author", author: "author", author_email: "email", email: "email",
      author_url: "url", url: "url", body: "comment", comment: "comment",
      captcha: "captcha", captcha_answer: "captcha", captcha_token: "captcha"
    });

    function submit(ev) {
      ev.preventDefault();
      if (st.busy) return;
      Object.keys(fields).forEach(function (k) { fieldError(fields[k], ""); });
      say("");
      var urlIn = fields.url.input;
      var u = urlIn.value.trim();
      // Readers type "example.com"; WordPress adds the scheme for them, so do we.
      if (u && !/^[a-z][a-z0-9+.-]*:/i.test(u)) urlIn.value = u = "https://" + u;
      var v = {
        author_name: fields.author.input.value.trim(),
        author_email: fields.email.input.value.trim(),
        author_url: u,
        body: fields.comment.input.value,
        captcha_token: st.captcha ? st.captcha.token : "",
        captcha_answer: st.mode === "sum" ? capInput.value.trim() : "",
        captcha_pow: "",
        honeypot: hp.value,
        reader_token: readerState().t || ""
      };
      if (st.parent) v.parent_id = st.parent;
      var bad = [];
      if (!v.body.trim()) bad.push(["comment", t.required]);
      if (!v.author_name) bad.push(["author", t.required]);
      if (!v.author_email) bad.push(["email", t.required]);
      else if (!/^[^\s@]+@[^\s@]+$/.test(v.author_email)) bad.push(["email", t.badEmail]);
      if (st.mode === "sum" && !v.captcha_answer) bad.push(["captcha", t.required]);
      if (bad.length) return invalid(bad, t.fix);
      if (!st.captcha) {
        loadCaptcha(true);
        return;
      }
      busy(true);
      var stamp = stampFor(st.mode);
      if (stamp === null) {
        // The work is not done yet: say so, and send as soon as it is.
        say(t.working);
        st.pow.waiting = function () { busy(false); submit(ev); };
        work();
        return;
      }
      v.captcha_pow = stamp;
      v.captcha_token = st.captcha.token;
      say(t.sending);
      api("POST", enc, v).then(function (r) {
        busy(false);
        if (r.status === 201 || r.status === 200) return posted(r.data, v);
        var e = r.data.error || {};
        if (r.data.captcha) showCaptcha(r.data.captcha);
        if (e.code === "thread_closed") {
          // Keep the form and its text (the reader may want to copy it); only posting stops.
          submitBtn.disabled = true;
          return say(e.message || t.closed, true);
        }
        if (e.code === "captcha_unanswered") {
          // The server does not know this author as trusted: back to the sum.
          setTrusted(0);
          setMode("sum", false);
        }
        if (r.status === 403 || (r.status === 409 && r.data.captcha)) {
          return invalid([["captcha", e.message || t.newCaptcha]], t.fix);
        }
        if (r.status === 429) {
          var wait = Math.max(1, Math.min(parseInt(r.headers.get("Retry-After"), 10) || e.retry_after || 60, 3600));
          submitBtn.disabled = true;
          setTimeout(function () { submitBtn.disabled = false; }, wait * 1000);
          return say(errorText(r), true);
        }
        if (r.status === 413) return invalid([["comment", t.tooLarge]], t.tooLarge);
        var marked = [], rest = [];
        Object.keys(e.fields || {}).forEach(function (k) {
          if (FIELD_OF[k]) marked.push([FIELD_OF[k], e.fields[k]]);
          else rest.push(e.fields[k]);
        });
        if (marked.length) return invalid(marked, [e.message || t.fix].concat(rest).join(" "));
        say([errorText(r)].concat(rest).join(" "), true);
      }, function () {
        busy(false);
        say(t.network, true);
      });
    }

    function invalid(bad, msg) {
      bad.forEach(function (b) { fieldError(fields[b[0]], b[1]); });
      say(msg, true);
      fields[bad[0][0]].input.focus();
    }

    function posted(d, v) {
      var c = d.comment || {};
      c.id = c.id || d.id;
      var own = d.status !== "published" || c.pending === true;
      var parentLi = st.parent && document.getElementById("comment-" + st.parent);
      var li = renderComment(c, own);
      if (parentLi) {
        var ol = parentLi.querySelector(":scope > .saring-replies");
        if (!ol) parentLi.appendChild(ol = h("ol", { cls: "replies" }));
        ol.appendChild(li);
      } else {
        list.appendChild(li);
      }
      if (!own) {
        st.total += 1;
        setCount();
      }
      var store = storage();
      try {
        var before = (store && JSON.parse(store.getItem(STORE) || "null")) || {};
        var count = (before.e === v.author_email ? before.p || 0 : 0) + (own ? 0 : 1);
        if (store && remember.checked) store.setItem(STORE, JSON.stringify({ n: v.author_name, e: v.author_email, u: v.author_url, p: count }));
        else if (store) store.removeItem(STORE);
      } catch (e) { /* storage full or blocked: remembering is optional */ }
      var r = readerState();
      if (d.reader_token) r.t = d.reader_token;
      if (d.reader_claim) (r.c = r.c || []).push({ i: d.id, c: d.reader_claim, a: Date.now() });
      saveReader(r);
      fields.comment.input.value = "";
      endReply(false);
      st.captcha = null;
      capInput.value = "";
      loadCaptcha(false);
      say(own ? t.pending : t.published, "ok");
      li.firstChild.focus();
    }

    if ("IntersectionObserver" in window) {
      // Ask for a question only when the form comes into view: most readers never comment.
      var io = new IntersectionObserver(function (entries) {
        if (entries.some(function (e) { return e.isIntersecting; })) {
          io.disconnect();
          if (!st.captcha) loadCaptcha(false);
        }
      });
      io.observe(form);
    } else {
      loadCaptcha(false);
    }

    setInterval(function () {
      [].forEach.call(root.querySelectorAll("time[datetime]"), function (el) {
        el.textContent = relTime(lang, el.getAttribute("datetime"));
      });
    }, 60000);

    load(false);
  }

  // One request fills every [data-saring-count] on the page (in chunks of 50 keys).
  function counts() {
    var by = Object.create(null), keys = [];
    [].forEach.call(document.querySelectorAll("[data-saring-count]"), function (el) {
      var k = el.getAttribute("data-saring-count");
      if (!KEY_RE.test(k)) return;
      if (!by[k]) { by[k] = []; keys.push(k); }
      by[k].push(el);
    });
    for (var i = 0; i < keys.length && i < 500; i += 50) {
      api("GET", "/api/v1/counts?threads=" + keys.slice(i, i + 50).map(encodeURIComponent).join(",")).then(function (r) {
        var got = (r.data && r.data.counts) || {};
        Object.keys(got).forEach(function (k) {
          if (!by[k] || typeof got[k] !== "number") return;
          by[k].forEach(function (el) { el.textContent = countText(TEXT[langOf(el)], got[k]); });
        });
      }, function () { /* counts are decoration; the page works without them */ });
    }
  }

  function init() {
    if (!document.getElementById("saring-style")) {
      var style = h("style", { id: "saring-style" });
      style.textContent = CSS;
      document.head.appendChild(style);
    }
    var root = document.getElementById("saring-thread");
    if (root && !root.hasAttribute("data-saring-ready") && KEY_RE.test(root.getAttribute("data-thread") || "")) {
      root.setAttribute("data-saring-ready", "");
      Thread(root);
    }
    counts();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
