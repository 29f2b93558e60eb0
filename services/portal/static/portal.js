// The portal works without this file; it only spares people a few clicks.
(function () {
  "use strict";
  // a double click sends a form once: the button is disabled after the first (the server's one-time
  // form token is what counts; see services/portal/security.py)
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.submitted === "true") { event.preventDefault(); return; }
    form.dataset.submitted = "true";
    window.setTimeout(function () {
      form.querySelectorAll("[data-prevent-double-click]").forEach(function (b) {
        b.setAttribute("aria-disabled", "true");
        b.disabled = true;
      });
    }, 0);
    // back to the form from the browser's cache: it may be sent again
    window.addEventListener("pageshow", function () { form.dataset.submitted = ""; });
  });
  // an error summary takes the focus, so a screen reader reads it first
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.querySelector("[data-focus-on-load]");
    if (summary) { summary.focus(); }
  });
})();
