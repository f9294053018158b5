// Enroll form: "read the ID card" polls the reader (about 10 s) until a card is on it, then fills
// the identity fields; every answer's message is shown (manual entry stays possible).
(function () {
  "use strict";
  var btn = document.getElementById("swipe");
  if (!btn) { return; }
  var form = document.getElementById("enroll-form"), status = document.getElementById("swipe-status");
  var TRIES = 14, PAUSE_MS = 700;
  function poll(left) {
    fetch("/api/idcard/read", {method: "POST", credentials: "same-origin",
      headers: {"X-CSRF-Token": form.elements.csrf.value, "Content-Type": "application/json"}, body: "{}"})
      .then(function (r) { return r.json(); }).then(function (j) {
        if (j.status === "none" && left > 0) { setTimeout(function () { poll(left - 1); }, PAUSE_MS); return; }
        btn.disabled = false;
        status.textContent = j.message || j.error || "";
        if (j.status !== "ok") { return; }
        Object.keys(j.fields).forEach(function (k) {
          var el = form.elements[k];
          if (el) { el.value = j.fields[k]; }
        });
        form.elements.photo_ref.value = j.photo_ref;
      }).catch(function () { btn.disabled = false; });
  }
  btn.addEventListener("click", function () {
    btn.disabled = true;
    status.textContent = btn.dataset.wait;
    poll(TRIES);
  });
})();
