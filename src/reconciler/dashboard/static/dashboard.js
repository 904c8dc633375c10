// The one thing the pages cannot do without a script: know the browser's time zone. A page that
// offers a zone and was opened without one (no tz in its address) is shown again in the
// browser's zone, if the page offers it. Everything else works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var select = document.querySelector("select.zone");
  if (!select) return;
  var params = new URLSearchParams(window.location.search);
  if (params.has("tz")) return;
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!zone || zone === select.value) return;
  var offered = Array.prototype.some.call(select.options, function (o) { return o.value === zone; });
  if (!offered) return;
  params.set("tz", zone);
  window.location.replace(window.location.pathname + "?" + params.toString() + window.location.hash);
});
