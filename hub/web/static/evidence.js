/* The evidence page: play an MJPEG clip frame by frame (tablets cannot play MJPEG AVI). */
(function () {
  "use strict";
  document.querySelectorAll("figure.clip").forEach(function (fig) {
    var img = fig.querySelector(".clip-frame");
    var button = fig.querySelector(".clip-play");
    var timer = null;
    button.addEventListener("click", function () {
      if (timer) { clearInterval(timer); timer = null; return; }
      fetch(fig.dataset.frames, {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (info) {
          if (!info.frames) { return; }
          var n = 0;
          img.hidden = false;
          img.src = fig.dataset.frame + "0.jpg";
          timer = setInterval(function () {
            n = (n + 1) % info.frames;
            img.src = fig.dataset.frame + n + ".jpg";
          }, 1000 / (info.fps || 4));
        });
    });
  });
}());
