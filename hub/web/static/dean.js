/* The dean's overview: the room tiles re-read (GET tiles.json, rendered and translated by
   the hub) at once when the hub says something changed (Server-Sent Events, /dean/stream),
   and every few seconds anyway (time left, time since the last visit); never a reload. A
   banner says when they could not be. Plain JavaScript, no build step. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("dean-page").textContent);
  var grid = document.getElementById("tiles");
  var state = document.getElementById("tiles-state");
  var timeFmt = new Intl.DateTimeFormat(cfg.lang, {timeZone: cfg.timezone, hour: "2-digit",
    minute: "2-digit", second: "2-digit", hour12: false});
  var busy = false, again = false, soon = null;

  function mark(ok, at) {
    state.className = "live-state " + (ok ? "live" : "reconnecting");
    state.textContent = ok ? state.dataset.updated + " " + timeFmt.format(new Date(at))
      : state.dataset.stale;
  }

  function replace(html) {             // the focused tile's link or button keeps the focus
    var el = document.activeElement, tile = el && el.closest && el.closest(".room-tile");
    var which = tile && (el.tagName === "BUTTON" ? "form.visit button" : "a.tile-link");
    grid.innerHTML = html;
    if (tile) {
      var same = grid.querySelector('.room-tile[data-room="' + tile.dataset.room + '"] ' + which);
      if (same) { same.focus(); }
    }
  }

  function poll() {
    if (document.hidden) { return; }
    if (busy) { again = true; return; }
    busy = true;
    fetch(cfg.tiles, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) {
        if (r.redirected || r.status === 401 || r.status === 403) { window.location.reload(); }
        return r.ok ? r.json() : Promise.reject(r.status);
      })
      .then(function (body) { replace(body.html); mark(true, body.at); })
      .catch(function () { mark(false); })
      .then(function () {
        busy = false;
        if (again) { again = false; poll(); }
      });
  }

  function changed() {                 // a burst of changes: one read
    if (soon === null) { soon = setTimeout(function () { soon = null; poll(); }, 150); }
  }

  // The stream: the browser reconnects by itself after a drop; when it gives up (a hub
  // restart, a 502 from the front) a new one is opened after a growing pause (2 s .. 60 s).
  var es = null, pause = 2000;
  function connect() {
    es = new EventSource(cfg.stream);
    es.onopen = function () { pause = 2000; poll(); };   // what was missed is in the read
    es.addEventListener("changed", changed);
    es.addEventListener("denied", function () { es.close(); window.location.reload(); });
    es.onerror = function () {
      if (es.readyState !== EventSource.CLOSED) { return; }
      mark(false);
      setTimeout(connect, pause);
      pause = Math.min(pause * 2, 60000);
    };
  }
  connect();
  setInterval(poll, Math.max(2, cfg.every_s) * 1000);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { poll(); } });
  window.addEventListener("online", poll);
})();
