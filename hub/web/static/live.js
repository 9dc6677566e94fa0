/* The live room page: Server-Sent Events that reconnect by themselves, the alert feed
   (newest first), the seat map's states, node health, and the one-tap actions without a
   page reload. Plain JavaScript, no build step. Every word comes translated from the page. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("kuzet-page").textContent);
  var L = cfg.labels;
  var feed = document.getElementById("feed");
  var tpl = document.getElementById("alert-template");
  var stateEl = document.getElementById("live-state");
  var timeFmt = new Intl.DateTimeFormat(cfg.lang, {timeZone: cfg.timezone, hour: "2-digit",
    minute: "2-digit", second: "2-digit", hour12: false});
  var failures = 0;

  function fmtTime(iso) { return iso ? timeFmt.format(new Date(iso)) : ""; }
  function fmtDur(s) {
    s = Math.max(0, Math.floor(s));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }
  function field(row, name) { return row.querySelector('[data-f="' + name + '"]'); }
  function setState(name) {
    stateEl.textContent = stateEl.dataset[name] || name;
    stateEl.className = "live-state " + name;
  }

  function tick(row) {
    var d = field(row, "duration");
    if (!d || !d.dataset.start) { return; }
    var start = Date.parse(d.dataset.start);
    var end = d.dataset.end ? Date.parse(d.dataset.end) : Date.now();
    d.textContent = fmtDur((end - start) / 1000);
  }

  function newRow(a) {
    var holder = document.createElement("ol");
    holder.innerHTML = tpl.innerHTML.split("__ALERT__").join(a.alert_id);
    return holder.firstElementChild;
  }

  function fill(row, a) {
    row.dataset.decision = a.decision;
    row.dataset.status = a.status;
    row.dataset.version = a.version;
    row.dataset.seat = a.seat || "";
    row.dataset.received = a.received_at;
    row.classList.toggle("advisory", !!a.advisory);
    field(row, "seat").textContent = a.seat || cfg.whole_room;
    field(row, "student").textContent = (a.seat && cfg.students[a.seat]) || "";
    field(row, "rule").textContent = (L.rules[a.rule] || a.rule) + (a.advisory ? " · " + cfg.advisory : "");
    var since = field(row, "since");
    since.setAttribute("datetime", a.started_at);
    since.textContent = fmtTime(a.started_at);
    var dur = field(row, "duration");
    dur.dataset.start = a.started_at;
    dur.dataset.end = a.ended_at || "";
    field(row, "ended").hidden = a.status !== "closed";
    var by = a.decided_by || a.ack_by;
    field(row, "decision").textContent = (L.decisions[a.decision] || a.decision) + (by ? " · " + by : "");
    field(row, "notes").hidden = !a.notes;
    field(row, "notes-n").textContent = a.notes;
    if (a.thumb) {
      var img = field(row, "thumb");
      var src = cfg.file.replace("__EVIDENCE__", a.thumb);
      if (img.getAttribute("src") !== src) { img.setAttribute("src", src); }
      img.hidden = false;
      row.querySelector(".nothumb").hidden = true;
    }
    if (a.decision === "dismissed" || a.decision === "confirmed") {
      row.querySelectorAll("details[open]").forEach(function (d) { d.open = false; });
    }
    tick(row);
  }

  function upsert(a) {
    var row = feed.querySelector('[data-alert="' + a.alert_id + '"]');
    if (row && Number(row.dataset.version) > a.version) { return; }
    if (!row) {
      row = newRow(a);
      feed.insertBefore(row, feed.firstChild);
    }
    fill(row, a);
  }

  function refresh() {
    var states = {};
    var open = 0;
    feed.querySelectorAll(".alert").forEach(function (row) {
      var seat = row.dataset.seat, dec = row.dataset.decision;
      var active = row.dataset.status === "open" && (dec === "new" || dec === "acknowledged");
      if (active) { open += 1; }
      if (!seat) { return; }
      if (dec === "confirmed") { states[seat] = "confirmed"; }
      else if (active && !states[seat]) { states[seat] = "alert"; }
    });
    document.querySelectorAll(".seatmap .seat").forEach(function (g) {
      var s = states[g.dataset.seat] || "quiet";
      g.setAttribute("class", "seat " + s);
    });
    document.getElementById("open-count").textContent = open ? "(" + open + ")" : "";
    document.getElementById("feed-empty").hidden = !!feed.querySelector(".alert");
  }

  function node(n) {
    var list = document.getElementById("nodes");
    var li = list.querySelector('[data-node="' + n.node + '"]');
    if (!li) {
      var none = list.querySelector(".none");
      if (none) { none.remove(); }
      li = document.createElement("li");
      li.dataset.node = n.node;
      li.innerHTML = '<strong></strong> <span data-f="liveness"></span> <span class="since">' +
        '<time data-f="since"></time></span> <span class="reasons" data-f="reasons"></span>';
      li.querySelector("strong").textContent = n.node;
      list.appendChild(li);
    }
    li.className = "node " + n.liveness;
    field(li, "liveness").textContent = L.liveness[n.liveness] || n.liveness;
    field(li, "since").textContent = fmtTime(n.since);
    field(li, "reasons").textContent = n.reasons.map(function (r) {
      return L.liveness_reasons[r] || r; }).join("; ");
  }

  function resync() {
    fetch(cfg.feed, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (body) {
        body.alerts.slice().reverse().forEach(upsert);
        var rows = Array.prototype.slice.call(feed.querySelectorAll(".alert"));
        rows.sort(function (x, y) { return Number(y.dataset.received || 0) - Number(x.dataset.received || 0); });
        rows.forEach(function (r) { feed.appendChild(r); });
        body.nodes.forEach(node);
        refresh();
      }).catch(function () {});
  }

  function connect() {
    var es = new EventSource(cfg.stream);
    es.onopen = function () { failures = 0; setState("live"); resync(); };
    es.addEventListener("alert", function (e) { upsert(JSON.parse(e.data)); refresh(); });
    es.addEventListener("node", function (e) { node(JSON.parse(e.data)); });
    es.addEventListener("resync", resync);
    es.addEventListener("denied", function () {
      es.close(); setState("denied");
      setTimeout(function () { window.location.reload(); }, 3000);
    });
    es.onerror = function () {
      setState("reconnecting");
      if (es.readyState === EventSource.CLOSED) {     // refused: try again, then reload
        failures += 1;
        if (failures > 5) { window.location.reload(); return; }
        setTimeout(connect, 2000);
      }
    };
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!feed.contains(form)) { return; }
    ev.preventDefault();
    var data;
    try { data = new FormData(form, ev.submitter); }
    catch (e) {
      data = new FormData(form);
      if (ev.submitter && ev.submitter.name) { data.append(ev.submitter.name, ev.submitter.value); }
    }
    fetch(form.action, {method: "POST", body: data, credentials: "same-origin",
      headers: {"X-Requested-With": "fetch", "Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (body.alert) { upsert(body.alert); refresh(); }
        var d = form.closest("details");
        if (d) { d.open = false; }
        if (form.classList.contains("note")) { form.reset(); }
      })
      .catch(function () { form.submit(); });
  });

  feed.querySelectorAll(".alert").forEach(function (row) {
    var t = field(row, "since");
    if (t && t.getAttribute("datetime")) { t.textContent = fmtTime(t.getAttribute("datetime")); }
    tick(row);
  });
  refresh();
  setInterval(function () { feed.querySelectorAll(".alert").forEach(tick); }, 1000);
  connect();
}());
