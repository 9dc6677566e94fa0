/* The live room page, a triage: open incidents in severity order (hub/triage.py gives the
   order in the page's data), the history's counts, the seat map's states, node health, and
   the one quick action ("On it") without a reload. Server-Sent Events keep it live; when the
   stream drops (Wi-Fi), a banner says so and the last known state stays; on reconnect the
   feed JSON is fetched again and applied, and what came in meanwhile is said and announced.
   A new non-advisory incident, first seen here, is dispatched as the `kuzet:alert-new`
   event (attention.js may sound or vibrate). Plain JavaScript, no build step; every word
   comes translated from the page. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("kuzet-page").textContent);
  var L = cfg.labels, RULES = cfg.triage.rules;
  function $(id) { return document.getElementById(id); }
  var openList = $("open-list"), histList = $("history-list"), tpl = $("incident-template");
  var stateEl = $("live-state"), banner = $("offline-banner"), caught = $("caught-up");
  var moreBtn = $("open-more-btn");
  var timeFmt = new Intl.DateTimeFormat(cfg.lang, {timeZone: cfg.timezone, hour: "2-digit",
    minute: "2-digit", hour12: false});

  var seen = {};            // alert_id -> {version, open, rule, outcome}: what this page knows
  var counts = null;        // the history's counts (the server's, kept up to date here)
  var confirmedSeats = {};  // seats with a confirmed violation (over the whole exam)
  var expanded = false;     // "more open incidents" shown
  var es = null, failures = 0, lastGood = Date.now(), lastBeat = Date.now();
  var lost = false, bannerTimer = null, countsTimer = null, caughtTimer = null;
  var retryTimer = null;
  var silentMs = Math.max(3 * cfg.keepalive_s * 1000, 5000);

  function isOpen(a) {
    return a.status === "open" && (a.decision === "new" || a.decision === "acknowledged");
  }
  function outcome(a) {
    return a.decision === "confirmed" || a.decision === "dismissed" ? a.decision : "unreviewed";
  }
  function rule(r) { return RULES[r] || {rank: 99, clause: "", group: ""}; }
  function fmtDur(s) {
    s = Math.max(0, Math.floor(s));
    var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = String(s % 60).padStart(2, "0");
    return h ? h + ":" + String(m).padStart(2, "0") + ":" + sec : m + ":" + sec;
  }
  function field(row, name) { return row.querySelector('[data-f="' + name + '"]'); }
  function rowOf(id) { return document.querySelector('li.incident[data-alert="' + CSS.escape(id) + '"]'); }
  function fmt(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_, k) { return values[k]; });
  }
  function setState(name) {
    stateEl.textContent = stateEl.dataset[name] || name;
    stateEl.className = "live-state " + name;
  }
  function href(a) {
    if (a.seat && cfg.links.seat) { return cfg.links.seat.replace("__SEAT__", encodeURIComponent(a.seat)); }
    return cfg.links.evidence.replace("__ALERT__", encodeURIComponent(a.alert_id));
  }

  function tick(row) {
    var d = field(row, "duration");
    if (!d || !d.dataset.start) { return; }
    var end = d.dataset.end ? Date.parse(d.dataset.end) : Date.now();
    d.textContent = fmtDur((end - Date.parse(d.dataset.start)) / 1000);
  }

  function stateText(a) {
    if (a.decision === "confirmed" || a.decision === "dismissed") {
      return L.decisions[a.decision] + (a.dismiss_reason ? ": " + (L.reasons[a.dismiss_reason] || a.dismiss_reason) : "");
    }
    if (a.status === "closed") { return L.outcomes.unreviewed; }
    if (a.decision === "acknowledged") { return L.decisions.acknowledged + (a.ack_by ? " · " + a.ack_by : ""); }
    return "";
  }

  function fill(row, a) {
    var t = rule(a.rule);
    row.className = "incident sev-" + t.group;
    row.dataset.rule = a.rule;
    row.dataset.rank = t.rank;
    row.dataset.started = a.started_at;
    row.dataset.decision = a.decision;
    row.dataset.status = a.status;
    row.dataset.version = a.version;
    row.dataset.seat = a.seat || "";
    row.querySelector(".inc-link").setAttribute("href", href(a));
    field(row, "seat").textContent = a.seat || cfg.words.whole_room;
    field(row, "student").textContent = (a.seat && cfg.students[a.seat]) || "";
    field(row, "state").textContent = stateText(a);
    field(row, "rule").textContent = L.rules[a.rule] || a.rule;
    field(row, "clause").textContent = L.clauses[t.clause] || "";
    field(row, "score").textContent = Number(a.score || 0).toFixed(2);
    field(row, "adv").hidden = !a.advisory;
    var dur = field(row, "duration");
    dur.dataset.start = a.started_at;
    dur.dataset.end = a.ended_at || "";
    tick(row);
  }

  function newRow(a) {
    var holder = document.createElement("ol");
    holder.innerHTML = tpl.innerHTML.split("__ALERT__").join(a.alert_id);
    return holder.firstElementChild;
  }

  function before(x, y) {           // does row x come before row y (worst, then oldest)?
    var rx = Number(x.dataset.rank), ry = Number(y.dataset.rank);
    if (rx !== ry) { return rx < ry; }
    if (x.dataset.started !== y.dataset.started) { return x.dataset.started < y.dataset.started; }
    return x.dataset.alert < y.dataset.alert;
  }

  function placeOpen(row) {
    var next = null;
    for (var c = openList.firstElementChild; c; c = c.nextElementSibling) {
      if (c !== row && before(row, c)) { next = c; break; }
    }
    if (row.parentNode !== openList || row.nextElementSibling !== next) { openList.insertBefore(row, next); }
  }

  function trimHistory() {
    while (histList.children.length > cfg.history_shown) { histList.lastElementChild.remove(); }
  }

  function count(rec, sign) {
    counts.total += sign;
    counts.by_rule[rec.rule] = (counts.by_rule[rec.rule] || 0) + sign;
    counts.by_outcome[rec.outcome] = (counts.by_outcome[rec.outcome] || 0) + sign;
  }

  function countsLater() {           // an update of a history incident older than the page
    clearTimeout(countsTimer);
    countsTimer = setTimeout(resync, 400);
  }

  /* Apply one alert as the server sent it. `fromFeed`: the feed's counts are the truth, so
     the counts are not touched. Returns true for a new incident to get attention for. */
  function apply(a, fromFeed) {
    var prev = seen[a.alert_id];
    if (prev && prev.version > a.version) { return false; }
    var open = isOpen(a), row = rowOf(a.alert_id);
    if (open) {
      row = row || newRow(a);
      fill(row, a);
      placeOpen(row);
    } else if (row || !prev || fromFeed) {
      var moving = !row || row.parentNode !== histList;
      row = row || newRow(a);
      fill(row, a);
      if (moving && fromFeed) { histList.appendChild(row); }      // resync puts them in order
      else if (moving) { histList.insertBefore(row, histList.firstChild); trimHistory(); }
    }
    var rec = {version: a.version, open: open, rule: a.rule, outcome: outcome(a)};
    if (!fromFeed && counts) {
      if (prev && !prev.open) { count(prev, -1); }
      if (!open) {
        if (prev || a.received_at >= cfg.synced_at) { count(rec, +1); } else { countsLater(); }
      }
    }
    seen[a.alert_id] = rec;
    if (a.seat && a.decision === "confirmed") { confirmedSeats[a.seat] = true; }
    return !prev && !a.advisory && (a.decision === "new" || a.decision === "acknowledged");
  }

  function announce(a) {
    document.dispatchEvent(new CustomEvent("kuzet:alert-new", {detail: {alert: a}}));
  }

  function renderCounts() {
    if (!counts) { return; }
    $("history-total").textContent = counts.total;
    document.querySelectorAll("[data-count-outcome]").forEach(function (el) {
      el.textContent = counts.by_outcome[el.dataset.countOutcome] || 0;
    });
    document.querySelectorAll("[data-rule-count]").forEach(function (li) {
      var n = counts.by_rule[li.dataset.ruleCount] || 0;
      li.hidden = !n;
      li.querySelector("[data-count-rule]").textContent = n;
    });
    $("history-note").textContent = fmt($("history-note").dataset.text,
      {shown: histList.children.length, total: counts.total});
  }

  function refresh() {
    var rows = openList.querySelectorAll("li.incident"), states = {};
    rows.forEach(function (row, i) {
      row.hidden = !expanded && i >= cfg.open_shown;
      if (row.dataset.seat) { states[row.dataset.seat] = "alert"; }
    });
    Object.keys(confirmedSeats).forEach(function (s) { states[s] = "confirmed"; });
    document.querySelectorAll(".seatmap .seat").forEach(function (g) {
      g.setAttribute("class", "seat " + (states[g.dataset.seat] || "quiet"));
    });
    $("open-count").textContent = rows.length;
    $("open-empty").hidden = rows.length > 0;
    var more = rows.length - cfg.open_shown;
    $("open-more").hidden = more <= 0;
    if (more > 0) {
      moreBtn.textContent = expanded ? moreBtn.dataset.fewer : fmt(moreBtn.dataset.more, {n: more});
      moreBtn.setAttribute("aria-expanded", String(expanded));
    }
    renderCounts();
  }

  function node(n) {
    var list = $("nodes");
    var li = list.querySelector('[data-node="' + CSS.escape(n.node) + '"]');
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
    field(li, "since").textContent = n.since ? timeFmt.format(new Date(n.since)) : "";
    field(li, "reasons").textContent = n.reasons.map(function (r) {
      return L.liveness_reasons[r] || r; }).join("; ");
  }

  /* The feed is the whole truth: every open incident, the latest history and its counts. */
  function resync() {
    var wasLost = lost && !banner.hidden;
    return fetch(cfg.feed, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (body) {
        var fresh = [], ids = {};
        body.open.concat(body.history).forEach(function (a) {
          if (!seen[a.alert_id]) { fresh.push(a); }
          apply(a, true);
          ids[a.alert_id] = true;
        });
        body.open.forEach(function (a) { var r = rowOf(a.alert_id); if (r) { placeOpen(r); } });
        body.history.forEach(function (a) { var r = rowOf(a.alert_id); if (r) { histList.appendChild(r); } });
        document.querySelectorAll("#open-list li.incident, #history-list li.incident").forEach(function (r) {
          if (!ids[r.dataset.alert]) {
            var rec = seen[r.dataset.alert];
            if (rec) { rec.open = false; }
            r.remove();
          }
        });
        counts = body.counts;
        cfg.synced_at = body.now;
        confirmedSeats = {};
        Object.keys(body.seat_states).forEach(function (s) {
          if (body.seat_states[s] === "confirmed") { confirmedSeats[s] = true; }
        });
        body.nodes.forEach(node);
        refresh();
        lastGood = Date.now();
        fresh.filter(function (a) {
          return !a.advisory && (a.decision === "new" || a.decision === "acknowledged");
        }).forEach(announce);
        if (wasLost) { caughtUp(fresh.length); }
      }).catch(function () {});
  }

  function caughtUp(n) {
    caught.textContent = n ? fmt(caught.dataset.some, {n: n}) : caught.dataset.none;
    caught.hidden = false;
    clearTimeout(caughtTimer);
    caughtTimer = setTimeout(function () { caught.hidden = true; }, 10000);
  }

  function showBanner() {
    banner.textContent = fmt(banner.dataset.text, {time: timeFmt.format(new Date(lastGood))});
    banner.hidden = false;
  }

  function connectionLost(now) {     // now: show the banner at once (the browser is offline)
    setState("reconnecting");
    if (!lost) {
      lost = true;
      clearTimeout(bannerTimer);      // a stream's planned end reconnects within a second
      bannerTimer = setTimeout(showBanner, now ? 0 : 2000);
    } else if (now) { showBanner(); }
  }

  function beat() {
    lastBeat = Date.now();
    if (!lost) { lastGood = lastBeat; }
  }

  function connected() {
    failures = 0;
    beat();
    setState("live");
    resync().then(function () {
      lost = false;
      clearTimeout(bannerTimer);
      banner.hidden = true;
      lastGood = Date.now();
    });
  }

  function connect() {
    clearTimeout(retryTimer);
    if (es) { es.close(); }
    es = new EventSource(cfg.stream);
    lastBeat = Date.now();
    es.onopen = connected;
    es.addEventListener("ping", beat);
    es.addEventListener("alert", function (e) {
      beat();
      var a = JSON.parse(e.data);
      if (apply(a, false)) { announce(a); }
      refresh();
    });
    es.addEventListener("node", function (e) { beat(); node(JSON.parse(e.data)); });
    es.addEventListener("resync", resync);
    es.addEventListener("denied", function () {
      es.close(); es = null; setState("denied");
      setTimeout(function () { window.location.reload(); }, 3000);
    });
    es.onerror = function () {
      connectionLost(false);
      if (es && es.readyState === EventSource.CLOSED) {   // the browser gave up: we retry
        es = null;
        retryLater();
      }
    };
  }

  /* Retry, backing off to 15 s. A hub that answers but refuses (signed out, the exam over:
     not 200, or sent to the login page) reloads the page to show why; a network that is not
     there keeps the last state on screen and is tried again: never a reload while offline. */
  function retryLater() {
    clearTimeout(retryTimer);
    failures += 1;
    retryTimer = setTimeout(probe, Math.min(1000 * Math.pow(2, failures), 15000));
  }

  function probe() {
    if (navigator.onLine === false) { retryLater(); return; }
    fetch(cfg.feed, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) {
        if (r.ok && !r.redirected) { connect(); }
        else if (r.status >= 500) { retryLater(); }
        else { window.location.reload(); }
      })
      .catch(retryLater);
  }

  setInterval(function () {          // a silent drop: no ping for three keep-alives
    if (es && es.readyState === EventSource.OPEN && Date.now() - lastBeat > silentMs) {
      connectionLost(true);
      connect();
    }
  }, 1000);
  window.addEventListener("offline", function () {
    if (es) { es.close(); es = null; }
    connectionLost(true);
    retryLater();              // tried again even if the "online" event never comes
  });
  window.addEventListener("online", function () { if (!es) { failures = 0; probe(); } });

  moreBtn.addEventListener("click", function () { expanded = !expanded; refresh(); });

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!openList.contains(form)) { return; }
    ev.preventDefault();
    fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: {"X-Requested-With": "fetch", "Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (body) { if (body.alert) { apply(body.alert, false); refresh(); } })
      .catch(function () { form.submit(); });
  });

  // What the page was rendered with is known: it gets no attention again.
  counts = cfg.counts;
  document.querySelectorAll("#open-list li.incident, #history-list li.incident").forEach(function (row) {
    var open = row.parentNode === openList, dec = row.dataset.decision;
    seen[row.dataset.alert] = {version: Number(row.dataset.version), open: open, rule: row.dataset.rule,
      outcome: dec === "confirmed" || dec === "dismissed" ? dec : "unreviewed"};
    tick(row);
  });
  Object.keys(cfg.seat_states).forEach(function (s) {
    if (cfg.seat_states[s] === "confirmed") { confirmedSeats[s] = true; }
  });
  refresh();
  setInterval(function () { openList.querySelectorAll("li.incident").forEach(tick); }, 1000);
  connect();
}());
