/* Attention without watching the screen: for a new high-severity alert (a device, notes,
   outside help, an overcrowded room; never an advisory one) a short beep (Web Audio, no file)
   and/or a vibration, at most once every 3 s. The proctor turns each on with the toggles of
   _attention.html; the setting is kept on this tablet (localStorage), off by default. New
   alerts come from live.js as the `kuzet:alert-new` event. For tests: window.kuzetAttention
   counts what was played and vibrated, mirrored in the box's data-played/data-vibrated. */
(function () {
  "use strict";
  var KEY = "kuzet.attention";
  // the non-advisory rules (hub.triage's order: device, notes, outside help, seat left)
  var HIGH = {device: 1, notes: 1, extra_person: 1, outsider_near_seat: 1,
              room_overcrowded: 1, seat_vacated: 1};
  var GAP_MS = 3000;
  var box = document.getElementById("attention");
  var state = window.kuzetAttention = {played: 0, vibrated: 0, sound: false, vibrate: false};
  if (!box) { return; }
  var audio = null, last = -Infinity;

  function load() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(KEY) || "{}");
      state.sound = saved.sound === true;
      state.vibrate = saved.vibrate === true;
    } catch (e) { /* no storage (private mode): stays off */ }
  }

  function save() {
    try {
      window.localStorage.setItem(KEY, JSON.stringify({sound: state.sound,
                                                       vibrate: state.vibrate}));
    } catch (e) { /* not kept: works for this page only */ }
  }

  function show() {
    box.querySelectorAll("[data-attention]").forEach(function (b) {
      b.setAttribute("aria-pressed", state[b.dataset.attention] ? "true" : "false");
    });
    box.dataset.played = state.played;
    box.dataset.vibrated = state.vibrated;
  }

  function context() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) { return null; }
    audio = audio || new Ctx();
    if (audio.state === "suspended") { audio.resume(); }
    return audio;
  }

  function beep() {
    var ctx = context();
    if (!ctx) { return false; }
    var t = ctx.currentTime, osc = ctx.createOscillator(), gain = ctx.createGain();
    osc.type = "sine";
    osc.frequency.setValueAtTime(880, t);
    osc.frequency.setValueAtTime(660, t + 0.15);
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.4, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.35);
    osc.connect(gain);
    gain.connect(ctx.destination);
    osc.start(t);
    osc.stop(t + 0.4);
    return true;
  }

  function vibrate() {
    return typeof navigator.vibrate === "function" && navigator.vibrate([200, 100, 200]);
  }

  box.addEventListener("click", function (ev) {
    var b = ev.target.closest("[data-attention]");
    if (!b) { return; }
    var what = b.dataset.attention;
    state[what] = !state[what];
    if (what === "sound" && state.sound) { context(); }   // a tap lets the page make sound
    save();
    show();
  });

  // Browsers let a page sound only after a tap on it: after a reload, the first tap anywhere
  // wakes the audio up again.
  ["pointerdown", "keydown"].forEach(function (type) {
    document.addEventListener(type, function () { if (state.sound) { context(); } },
                              {capture: true});
  });

  document.addEventListener("kuzet:alert-new", function (ev) {
    var a = ev.detail && ev.detail.alert;
    if (!a || a.advisory || !HIGH[a.rule] || !(state.sound || state.vibrate)) { return; }
    var now = Date.now();
    if (now - last < GAP_MS) { return; }
    last = now;
    if (state.sound && beep()) { state.played += 1; }
    if (state.vibrate && vibrate()) { state.vibrated += 1; }
    show();
  });

  if (typeof navigator.vibrate !== "function") {
    box.querySelector('[data-attention="vibrate"]').hidden = true;
  }
  load();
  show();
}());
