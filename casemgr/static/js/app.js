// Small enhancements only: every page works without this file.
// Buttons with data-confirm ask once before an irreversible action.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});
