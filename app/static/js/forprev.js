// After a form is sent and comes back with errors, the keyboard goes to the first one
// (not after the inline check of a field being left: the person is moving on).
// (htmx 2: detail.elt is the element swapped in; the one that sent is requestConfig.elt.
// An outerHTML swap leaves detail.target out of the page: then the event's own target is
// the element swapped in.)
document.addEventListener("htmx:afterSwap", function (event) {
  var sender = event.detail.requestConfig && event.detail.requestConfig.elt;
  if (!sender || sender.tagName !== "FORM") { return; }
  var swapped = event.detail.target.isConnected ? event.detail.target : event.target;
  var invalid = swapped.querySelector("[aria-invalid='true']");
  if (invalid) { invalid.focus(); }
});
(function () {
  var invalid = document.querySelector("[aria-invalid='true']");
  if (invalid) { invalid.focus(); }
})();

// ARIA tabs: Left/Right/Home/End move to another tab and open it (the tabs are links).
document.addEventListener("keydown", function (event) {
  var tab = event.target.closest && event.target.closest("[role='tab']");
  if (!tab) { return; }
  var tabs = Array.prototype.slice.call(tab.closest("[role='tablist']").querySelectorAll("[role='tab']"));
  var index = tabs.indexOf(tab);
  var next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 }[event.key];
  if (next === undefined) { return; }
  event.preventDefault();
  var target = tabs[(next + tabs.length) % tabs.length];
  tabMovedByKeyboard = true;
  target.focus();
  target.click();
});

// After a tab opened from the keyboard is swapped in, keep the keyboard on it.
var tabMovedByKeyboard = false;
document.addEventListener("htmx:afterSettle", function () {
  if (!tabMovedByKeyboard) { return; }
  tabMovedByKeyboard = false;
  var selected = document.querySelector("[role='tablist'] [role='tab'][aria-selected='true']");
  if (selected) { selected.focus(); }
});

// A form on its way (the person clicked to send it): the live checks still waiting to
// run for its fields have nothing left to say, and would reach the server after the
// login session they carry the token of has been replaced.
document.addEventListener("submit", function (event) {
  event.target.setAttribute("data-envoi", "1");
});
document.addEventListener("htmx:beforeRequest", function (event) {
  var elt = event.detail.elt;
  var form = elt.closest && elt.closest("form[data-envoi]");
  if (form && form !== elt) { event.preventDefault(); }
});
window.addEventListener("pageshow", function () {
  document.querySelectorAll("form[data-envoi]").forEach(function (form) {
    form.removeAttribute("data-envoi");
  });
});
