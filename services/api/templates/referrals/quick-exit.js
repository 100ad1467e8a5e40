// The quick exit of the public page (咨询服务): leave at once for a neutral page, and replace
// this page in the browser's history so that "back" does not return to it. Without
// JavaScript the link simply opens that page. Esc does the same as the link.
(function () {
  "use strict";
  var exit = document.getElementById("quick-exit");
  if (!exit) {
    return;
  }
  var leave = function (event) {
    if (event) {
      event.preventDefault();
    }
    window.location.replace(exit.href);
  };
  exit.addEventListener("click", leave);
  // Marks the link as handled here (tests wait for it before they click).
  exit.setAttribute("data-replaces-history", "");
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      leave(event);
    }
  });
})();
