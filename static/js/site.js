// Progressive enhancement only: every page works without this file.
// Copy buttons: <button data-copy="ID" hidden> copies the text of element ID; a secret's
// button names itself with data-copy-label rather than reading the secret aloud.
(function () {
  "use strict";

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        return fallbackCopy(text);
      });
    }
    return fallbackCopy(text);
  }

  function setUp(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) {
      return;
    }
    var status = button.parentNode.querySelector(".copy-status");
    button.hidden = false;
    var label = button.getAttribute("data-copy-label");
    button.setAttribute("aria-label", label || "Copy “" + source.textContent.trim() + "” to the clipboard");
    var idle = button.textContent;
    button.addEventListener("click", function () {
      copy(source.textContent.trim()).then(
        function () {
          button.textContent = "Copied";
          if (status) { status.textContent = "Copied to the clipboard"; }
        },
        function () {
          if (status) { status.textContent = "Press Ctrl+C to copy"; }
          var range = document.createRange();
          range.selectNodeContents(source);
          var selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
        }
      );
      window.setTimeout(function () {
        button.textContent = idle;
        if (status) { status.textContent = ""; }
      }, 3000);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var buttons = document.querySelectorAll("button[data-copy]");
    for (var i = 0; i < buttons.length; i++) {
      setUp(buttons[i]);
    }
  });
})();
