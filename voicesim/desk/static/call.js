// The call page's player: click a word (or a time, or the waveform) to seek there;
// while playing, the word being spoken is highlighted and the playhead follows.
(function () {
  "use strict";
  var player = document.getElementById("player");
  var words = Array.prototype.slice.call(document.querySelectorAll(".w[data-t]"));
  var starts = words.map(function (w) { return parseFloat(w.dataset.t); });
  var ends = words.map(function (w) { return parseFloat(w.dataset.e); });
  var wave = document.querySelector(".wave");
  var playhead = document.getElementById("playhead");
  var current = null;

  function seek(t) {
    if (!player) return;
    player.currentTime = t;
    highlight(t);
  }

  // Binary search: the last word starting at or before t, if t is still inside it.
  function wordAt(t) {
    var lo = 0, hi = starts.length - 1, found = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (starts[mid] <= t) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found >= 0 && t <= ends[found] + 0.05 ? words[found] : null;
  }

  function highlight(t) {
    var w = wordAt(t);
    if (w !== current) {
      if (current) current.classList.remove("now");
      if (w) w.classList.add("now");
      current = w;
    }
    if (playhead && wave) {
      var duration = parseFloat(wave.dataset.duration) || 1;
      var x = Math.min(t / duration, 1) * 1000;
      playhead.setAttribute("x1", x);
      playhead.setAttribute("x2", x);
    }
  }

  document.addEventListener("click", function (ev) {
    var target = ev.target.closest("[data-t]");
    if (!target || !player) return;
    ev.preventDefault();
    seek(parseFloat(target.dataset.t));
  });

  if (wave && player) {
    wave.addEventListener("click", function (ev) {
      var box = wave.getBoundingClientRect();
      seek((ev.clientX - box.left) / box.width * (parseFloat(wave.dataset.duration) || 0));
    });
  }

  if (player) {
    // requestAnimationFrame while playing: timeupdate alone fires only about four times a second.
    var tick = function () {
      highlight(player.currentTime);
      if (!player.paused) window.requestAnimationFrame(tick);
    };
    player.addEventListener("play", tick);
    player.addEventListener("seeked", function () { highlight(player.currentTime); });
    var t = /#t=([0-9.]+)/.exec(window.location.hash);
    if (t) player.addEventListener("loadedmetadata", function () { seek(parseFloat(t[1])); });
  }

  var pin = document.getElementById("pin-now");
  if (pin && player) {
    pin.addEventListener("click", function () {
      document.getElementById("comment-at").value = player.currentTime.toFixed(1);
    });
  }

  // Remember the trainer's name between forms (this browser only).
  var names = document.querySelectorAll("input.by");
  var saved = window.localStorage && localStorage.getItem("voicesim-desk-by");
  Array.prototype.forEach.call(names, function (input) {
    if (!input.value && saved) input.value = saved;
    input.form.addEventListener("submit", function () {
      if (input.value) localStorage.setItem("voicesim-desk-by", input.value);
    });
  });
})();
