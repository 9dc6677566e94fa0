/* The check-in view: ask the camera for a fresh crop of a seat (one seat at a time, the ones
   without a picture first), poll until it came, show it beside the roster photo with what
   the camera saw seated; post a result without leaving the page and update the headcount.
   Without script each button posts its form and the page reloads. */
(function () {
  "use strict";
  var grid = document.querySelector(".checkin-grid");
  if (!grid) { return; }
  var POLL_MS = 600, GIVE_UP_MS = 20000, SPACING_MS = 250;
  var HEADERS = {"X-Requested-With": "fetch"};
  var queue = [], busy = false;

  function text(id, value) { var el = document.getElementById(id); if (el) { el.textContent = value; } }
  function headcount(hc) {
    if (!hc) { return; }
    var box = document.getElementById("headcount");
    text("hc-seen", hc.seen === null ? box.dataset.unknown : String(hc.seen));
    text("hc-checked", String(hc.checked_in));
    text("hc-absent", String(hc.absent));
    text("hc-waiting", String(hc.waiting));
    text("hc-someone", String(hc.someone_else));
    document.getElementById("hc-someone-box").hidden = !hc.someone_else;
  }
  function time(iso) {
    return new Intl.DateTimeFormat(grid.dataset.lang, {timeZone: grid.dataset.timezone,
      hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false}).format(new Date(iso));
  }
  function show(card, info) {
    var img = card.querySelector(".crop-image");
    img.src = info.image;
    img.hidden = false;
    card.querySelector(".nocrop").hidden = true;
    card.dataset.hasCrop = "1";
    card.querySelector("input[name=command]").value = info.command;
    if (info.captured_at) {
      card.querySelector(".crop-time").textContent =
        grid.dataset.captured.replace("__TIME__", time(info.captured_at));
    }
    card.querySelector(".crop-seated").textContent = info.seat_taken === null ? "" :
      " · " + (info.seat_taken ? grid.dataset.taken : grid.dataset.empty);
    card.querySelector(".crop-state").textContent = "";
    card.querySelector(".advice-box").innerHTML = info.face_match_html || "";
    card.dispatchEvent(new CustomEvent("kuzet:check-in-crop", {bubbles: true, detail: info}));
  }
  // The automatic face match (exams that opted in) is made on the hub just after the crop
  // came: re-read the crop's status until its advice is there, then show it.
  function awaitMatch(card, url, started) {
    setTimeout(function () {
      fetch(url, {credentials: "same-origin", headers: HEADERS})
        .then(function (r) { return r.json(); })
        .then(function (info) {
          card.querySelector(".advice-box").innerHTML = info.face_match_html || "";
          if (!info.face_match && Date.now() - started < GIVE_UP_MS) { awaitMatch(card, url, started); }
        })
        .catch(function () {});
    }, POLL_MS);
  }
  function poll(card, url, started, done) {
    fetch(url, {credentials: "same-origin", headers: HEADERS})
      .then(function (r) { return r.json(); })
      .then(function (info) {
        if (info.ready) {
          show(card, info); headcount(info.headcount); done();
          if (info.face_match_wanted && !info.face_match) { awaitMatch(card, url, Date.now()); }
          return;
        }
        if (Date.now() - started > GIVE_UP_MS) {
          card.querySelector(".crop-state").textContent = grid.dataset.failed; done(); return;
        }
        setTimeout(function () { poll(card, url, started, done); }, POLL_MS);
      })
      .catch(function () { card.querySelector(".crop-state").textContent = grid.dataset.failed; done(); });
  }
  function ask(card, done) {
    var form = card.querySelector("form.results");
    var body = new FormData();
    body.set("csrf_token", form.querySelector("input[name=csrf_token]").value);
    card.querySelector(".crop-state").textContent = grid.dataset.waiting;
    fetch(card.dataset.cropUrl, {method: "POST", credentials: "same-origin", body: body, headers: HEADERS})
      .then(function (r) { return r.json(); })
      .then(function (answer) {
        if (answer.status_url) { poll(card, answer.status_url, Date.now(), done); return; }
        card.querySelector(".crop-state").textContent = answer.error || grid.dataset.failed;
        done();
      })
      .catch(function () { card.querySelector(".crop-state").textContent = grid.dataset.failed; done(); });
  }
  function next() {
    if (busy || !queue.length) { return; }
    busy = true;
    ask(queue.shift(), function () { busy = false; setTimeout(next, SPACING_MS); });
  }
  function want(card) { if (queue.indexOf(card) < 0) { queue.push(card); } next(); }

  var cards = Array.prototype.slice.call(grid.querySelectorAll(".checkin-card"));
  cards.forEach(function (card) {
    card.querySelector("button.fresh").addEventListener("click", function () { want(card); });
  });
  document.getElementById("all-crops").addEventListener("click", function () { cards.forEach(want); });
  cards.filter(function (c) { return !c.dataset.hasCrop; }).forEach(want);

  document.querySelectorAll(".checkin-card form.results").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      var button = ev.submitter;
      if (!button || !button.value) { return; }
      ev.preventDefault();
      var card = form.closest(".checkin-card");
      var body = new FormData(form);
      body.set("result", button.value);
      if (button.value !== "moved") { body.delete("moved_to"); }
      fetch(form.action, {method: "POST", credentials: "same-origin", body: body, headers: HEADERS})
        .then(function (r) { return r.json(); })
        .then(function (answer) {
          var line = card.querySelector(".result-line");
          if (answer.error) { line.textContent = answer.error; return; }
          if (answer.result === "moved") { window.location.reload(); return; }
          card.dataset.result = answer.result;
          line.textContent = button.textContent + " · " + time(new Date().toISOString());
          headcount(answer.headcount);
        })
        .catch(function () { window.location.reload(); });
    });
  });
}());
