/* The seat page's "Fresh picture": ask the camera for a snapshot, poll until it is stored,
   show it cut to the seat (the SVG's viewBox is the seat's box). Without script the button
   posts the form and the page reloads with the picture once it came. */
(function () {
  "use strict";
  var form = document.getElementById("fresh-picture");
  if (!form) { return; }
  var button = document.getElementById("fresh-picture-button");
  var state = document.getElementById("fresh-state");
  var svg = document.getElementById("seat-svg");
  var image = document.getElementById("seat-image");
  var POLL_MS = 700, GIVE_UP_MS = 20000;

  function say(text) { state.textContent = text; }
  function show(info) {
    image.setAttribute("href", info.image);
    svg.hidden = false;
    var crop = document.getElementById("seat-crop");
    if (crop) { crop.hidden = true; }
    document.getElementById("seat-nopicture").hidden = true;
    var figure = document.getElementById("seat-figure");
    figure.dataset.kind = "fresh";
    if (info.captured_at) {
      var time = new Intl.DateTimeFormat(figure.dataset.lang, {timeZone: figure.dataset.timezone,
        hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false});
      document.getElementById("seat-captured").textContent =
        figure.dataset.captured.replace("__TIME__", time.format(new Date(info.captured_at)));
    }
    say("");
  }
  function poll(url, started) {
    fetch(url, {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}})
      .then(function (r) { return r.json(); })
      .then(function (info) {
        if (info.ready) { show(info); button.disabled = false; return; }
        if (Date.now() - started > GIVE_UP_MS) {
          say(state.dataset.failed); button.disabled = false; return;
        }
        setTimeout(function () { poll(url, started); }, POLL_MS);
      })
      .catch(function () { say(state.dataset.failed); button.disabled = false; });
  }
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    button.disabled = true;
    say(state.dataset.waiting);
    fetch(form.action, {method: "POST", credentials: "same-origin", body: new FormData(form),
                        headers: {"X-Requested-With": "fetch"}})
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (body.status_url) { poll(body.status_url, Date.now()); return; }
        say(body.error || state.dataset.failed);
        button.disabled = false;
      })
      .catch(function () { say(state.dataset.failed); button.disabled = false; });
  });
}());
