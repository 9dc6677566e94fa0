/* The technician's seat-map editor: a snapshot from the node, seat polygons drawn over it
   in the snapshot's pixels (SVG), saved to the hub and pushed to the node. Pointer events
   (mouse, pen, touch alike), nothing needs hover. Plain JavaScript, no build step. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("kuzet-editor").textContent);
  var L = cfg.labels;
  var svg = document.getElementById("seats");
  var img = document.getElementById("snapshot");
  var stage = document.getElementById("stage");
  var idInput = document.getElementById("seat-id");
  var status = document.getElementById("editor-status");
  var csrf = document.querySelector("input[name=csrf_token]").value;
  var NS = "http://www.w3.org/2000/svg";
  var ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
  var size = cfg.frame_size;            // [w, h] of the picture the polygons are drawn on
  var seats = cfg.seats.map(function (s) { return {id: s.id, polygon: s.polygon}; });
  var draft = [];
  var selected = null;
  var drag = null;                      // {points, index}
  var drawing = false;                  // "New seat": every tap is a corner, even on a seat

  function say(text, error) { status.textContent = text; status.className = error ? "error" : ""; }
  function fit() {
    if (!size) { return; }
    svg.setAttribute("viewBox", "0 0 " + size[0] + " " + size[1]);
    svg.setAttribute("preserveAspectRatio", "none");
    if (img.hidden) { stage.style.aspectRatio = size[0] + " / " + size[1]; }
  }
  function unit() { return size ? size[0] / Math.max(1, svg.getBoundingClientRect().width) : 1; }
  function at(ev) {
    var r = svg.getBoundingClientRect();
    return [Math.round((ev.clientX - r.left) / r.width * size[0] * 10) / 10,
            Math.round((ev.clientY - r.top) / r.height * size[1] * 10) / 10];
  }
  function el(name, attrs) {
    var e = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }
  function pts(poly) { return poly.map(function (p) { return p[0] + "," + p[1]; }).join(" "); }
  function handles(poly, owner) {
    poly.forEach(function (p, i) {
      var c = el("circle", {cx: p[0], cy: p[1], r: 9 * unit(), "data-i": i});
      c.addEventListener("pointerdown", function (ev) {
        ev.stopPropagation();
        if (owner === draft && i === 0 && draft.length >= 3) { closeSeat(); return; }
        drag = {points: poly, index: i};
        svg.setPointerCapture(ev.pointerId);
      });
      svg.appendChild(c);
    });
  }
  function draw() {
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    seats.forEach(function (s) {
      var poly = el("polygon", {points: pts(s.polygon), "data-seat": s.id,
                                "class": s === selected ? "selected" : ""});
      poly.addEventListener("pointerdown", function (ev) {
        if (draft.length || drawing) { return; }
        ev.stopPropagation();
        selected = s;
        idInput.value = s.id;
        draw();
      });
      svg.appendChild(poly);
      var cx = 0, cy = 0;
      s.polygon.forEach(function (p) { cx += p[0]; cy += p[1]; });
      var t = el("text", {x: cx / s.polygon.length, y: cy / s.polygon.length,
                          "font-size": 22 * unit(), "text-anchor": "middle"});
      t.textContent = s.id;
      svg.appendChild(t);
    });
    if (selected) { handles(selected.polygon, selected); }
    if (draft.length) {
      svg.appendChild(el("polyline", {points: pts(draft)}));
      handles(draft, draft);
    }
    document.getElementById("seat-count").textContent = seats.length;
  }
  function nextId(id) {
    var m = /^(.*?)(\d+)$/.exec(id);
    return m ? m[1] + (parseInt(m[2], 10) + 1) : id + "2";
  }
  function closeSeat() {
    var id = idInput.value.trim();
    if (draft.length < 3) { return; }
    if (!ID_RE.test(id) || seats.some(function (s) { return s.id === id; })) {
      say(L.seat_id + ": " + id + "?", true);
      return;
    }
    var seat = {id: id, polygon: draft};
    seats.push(seat);
    draft = [];
    drawing = false;
    selected = seat;
    idInput.value = nextId(id);
    say("");
    draw();
  }

  svg.addEventListener("pointerdown", function (ev) {
    if (!size) { say(L.no_image, true); return; }
    if (selected && !draft.length) { selected = null; }
    draft.push(at(ev));
    draw();
  });
  svg.addEventListener("pointermove", function (ev) {
    if (!drag) { return; }
    drag.points[drag.index] = at(ev);
    draw();
  });
  function endDrag() { drag = null; }
  svg.addEventListener("pointerup", endDrag);
  svg.addEventListener("pointercancel", endDrag);

  document.getElementById("close-seat").addEventListener("click", closeSeat);
  document.getElementById("new-seat").addEventListener("click", function () {
    drawing = true;
    selected = null;
    draft = [];
    draw();
  });
  document.getElementById("delete-seat").addEventListener("click", function () {
    drawing = false;
    if (draft.length) { draft = []; } else if (selected) {
      seats = seats.filter(function (s) { return s !== selected; });
      selected = null;
    }
    draw();
  });
  document.getElementById("rename-seat").addEventListener("click", function () {
    var id = idInput.value.trim();
    if (!selected || !ID_RE.test(id) ||
        seats.some(function (s) { return s.id === id && s !== selected; })) {
      say(L.seat_id + ": " + id + "?", true);
      return;
    }
    selected.id = id;
    draw();
  });

  function post(url, body) {
    return fetch(url, {method: "POST", credentials: "same-origin",
      headers: {"X-CSRF-Token": csrf, "Content-Type": "application/json",
                "X-Requested-With": "fetch", "Accept": "application/json"},
      body: JSON.stringify(body || {})}).then(function (r) {
      return r.json().then(function (j) { j.http = r.status; return j; });
    });
  }
  function poll(url, done, tries) {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); }).then(function (j) {
        if (done(j)) { return; }
        if (tries > 0) { setTimeout(function () { poll(url, done, tries - 1); }, 500); }
      });
  }
  function showImage(url) {
    img.onload = function () {
      var w = img.naturalWidth, h = img.naturalHeight;
      if (size && (size[0] !== w || size[1] !== h)) {       // keep the seats on the picture
        var fx = w / size[0], fy = h / size[1];
        seats.forEach(function (s) {
          s.polygon = s.polygon.map(function (p) {
            return [Math.round(p[0] * fx * 10) / 10, Math.round(p[1] * fy * 10) / 10];
          });
        });
      }
      size = [w, h];
      img.hidden = false;
      stage.style.aspectRatio = "";
      fit();
      draw();
      say("");
    };
    img.src = url;
  }

  document.getElementById("snap").addEventListener("click", function () {
    say(L.waiting);
    post(cfg.snapshot_url).then(function (j) {
      if (j.error) { say(L.failed + " " + j.error, true); return; }
      poll(j.status_url, function (s) {
        if (s.image) { showImage(s.image + "?t=" + Date.now()); return true; }
        if (s.ok === false) { say(L.failed + " " + s.detail, true); return true; }
        return false;
      }, 40);
    });
  });
  document.getElementById("save").addEventListener("click", function () {
    if (!size) { say(L.no_image, true); return; }
    post(cfg.save_url, {seatmap: {frame_size: size, seats: seats}}).then(function (j) {
      if (!j.saved) { say(L.failed + " " + (j.error || j.http), true); return; }
      if (j.error) { say(L.failed + " " + j.error, true); return; }
      say(L.sent);
      poll(j.status_url, function (s) {
        if (s.ok === true) { say(L.saved + " (" + s.detail + ")"); return true; }
        if (s.ok === false) { say(L.failed + " " + s.detail, true); return true; }
        return false;
      }, 40);
    });
  });

  fit();
  if (cfg.last_snapshot) { showImage(cfg.last_snapshot); } else { draw(); }
}());
