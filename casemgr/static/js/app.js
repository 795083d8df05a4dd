// Small enhancements only: every page works without this file.
// Buttons with data-confirm ask once before an irreversible action.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});

// A select with data-filter-by="<id>" offers only its options whose data-site is empty or
// is the value chosen in the select of that id: moving a client to a site, that site's
// counselors and the network-wide ones. The server checks the choice either way.
function filterBySite(select, source) {
  var chosen = source.value;
  select.querySelectorAll("option[data-site]").forEach(function (option) {
    var site = option.getAttribute("data-site");
    var offered = !chosen || site === "" || site === chosen;
    option.hidden = !offered;
    option.disabled = !offered;
    if (!offered && option.selected) {
      select.value = "";
    }
  });
  select.querySelectorAll("optgroup").forEach(function (group) {
    group.hidden = !group.querySelector("option:not([hidden])");
  });
}

document.querySelectorAll("select[data-filter-by]").forEach(function (select) {
  var source = document.getElementById(select.getAttribute("data-filter-by"));
  if (source) {
    source.addEventListener("change", function () {
      filterBySite(select, source);
    });
    filterBySite(select, source);
  }
});
